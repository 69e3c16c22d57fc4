"""Ownership that does not lag: `fresh=true` re-checks a page at the chain head in one JSON-RPC batch
and drops what the index has not yet seen leave; once indexed, the item moves from one owner's
listing to the other's. Conditional requests let a game poll cheaply; a stolen item is marked."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from tests.wardrobe.conftest import World, keys


def _item(world: World, name: str) -> dict[str, Any]:
    return next(i for i in world.all_pages(world.player.address) if i["name"] == name)


def test_fresh_catches_a_transfer_the_index_has_not_seen(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    player, buyer = world.player.address, Account.create().address
    w3 = world.stack.runtime.w3
    sneakers = _item(world, "Sneakers")
    moved = (sneakers["contract"], sneakers["token_id"])
    # The player sells on chain directly, paying their own gas: the service relays nothing, and the
    # index (driven by the test) has not read the block.
    collection = world.stack.runtime.chain.collection(sneakers["contract"])
    tx = collection.functions.transferFrom(player, buyer, sneakers["token_id"]).transact({"from": player})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1

    stale = world.listing(player)
    assert moved in keys(stale["items"]) and stale["fresh"] is None  # the index lags

    batches: list[int] = []
    send = w3.provider.make_batch_request  # type: ignore[attr-defined]

    def counted(calls: list[Any]) -> Any:
        batches.append(len(calls))
        return send(calls)

    monkeypatch.setattr(w3.provider, "make_batch_request", counted)
    fresh = world.listing(player, fresh="true")
    monkeypatch.undo()
    # The head alone, then one batch: a report per item at that block and the block again by number.
    assert batches == [len(stale["items"]) + 1]
    assert moved not in keys(fresh["items"])
    assert set(keys(fresh["items"])) == set(keys(stale["items"])) - {moved}
    assert fresh["fresh"]["moved"] == [{"contract": moved[0], "token_id": moved[1], "chain_owner": buyer}]
    head = w3.eth.get_block(fresh["fresh"]["head"]["number"])
    assert fresh["fresh"]["head"]["hash"] == head["hash"].to_0x_hex()
    assert head["number"] >= w3.eth.get_transaction_receipt(tx)["blockNumber"]
    assert fresh["valid_at"] == stale["valid_at"]  # the index part still says where the index is

    world.index()
    assert moved not in keys(world.all_pages(player))
    bought = world.listing(buyer)
    assert keys(bought["items"]) == [moved] and bought["valid_at"]["number"] >= head["number"]
    assert world.listing(buyer, fresh="true")["fresh"]["moved"] == []


def test_conditional_requests_and_a_stolen_item(world: World) -> None:
    url = f"/v1/owners/{world.player.address}/twins"
    first = world.client.get(url)
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and first.headers["cache-control"] == "no-cache"
    same = world.client.get(url, headers={"If-None-Match": tag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == tag
    assert world.client.get(url, headers={"If-None-Match": f'"nope", {tag}'}).status_code == 304
    assert world.client.get(url, headers={"If-None-Match": '"nope"'}).status_code == 200

    # Blocks that change nothing for this player keep the tag: a game polling every block gets 304s.
    world.mint(world.b, [_filler(world)])
    world.index()
    later = world.client.get(url)
    assert later.json()["valid_at"]["number"] > first.json()["valid_at"]["number"]
    assert later.headers["etag"] == tag
    assert world.client.get(url, headers={"If-None-Match": tag}).status_code == 304

    hat = _item(world, "Hat")
    r = world.client.post(
        f"/v1/twins/{hat['contract']}/{hat['token_id']}/status", json={"status": "stolen"}, headers=world.a
    )
    assert r.status_code == 200, r.text
    # At the head the theft shows at once; from the index once it has read the block.
    fresh_hat = next(i for i in world.listing(world.player.address, fresh="true")["items"] if i["name"] == "Hat")
    assert fresh_hat["stolen"] is True and fresh_hat["status"] == "stolen"
    assert _item(world, "Hat")["stolen"] is False
    world.index()
    changed = world.client.get(url, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    marked = next(i for i in changed.json()["items"] if i["name"] == "Hat")
    assert marked["stolen"] is True and marked["status"] == "stolen"


def test_my_twins_needs_a_player_session(world: World) -> None:
    r = world.client.get("/v1/me/twins")
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthenticated")


def _filler(world: World) -> dict[str, Any]:
    model = list(world.models)[-1]  # brand B's GLB
    preview = world.stack.upload(world.b, b"\x89PNG\r\n\x1a\n" + b"\x02" * 36)
    return {
        "kind": "virtual",
        "name": "Someone else's",
        "representations": [{"body_shapes": ["BaseMale"], "model": model}],
        "preview_image": preview,
    }
