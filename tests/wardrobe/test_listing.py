"""A player's wearables from the index: game-ready items whose GLB URLs serve the bytes their CIDs
name, the block the answer is valid at, filters, and cursor pages that stay stable while twins are
minted between them."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from registry.ipfs.cid import CID
from tests.wardrobe.conftest import World, keys


def problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/" + code), r.json()


def test_items_are_game_ready_and_their_bytes_match_their_cids(world: World) -> None:
    page = world.listing(world.player.address)
    assert page["owner"] == world.player.address
    assert sorted(keys(page["items"])) == sorted(world.owned)
    # The block the index is valid at is a real block of the chain, with its hash.
    block = world.stack.runtime.w3.eth.get_block(page["valid_at"]["number"])
    assert page["valid_at"]["hash"] == block["hash"].to_0x_hex()
    jacket = next(i for i in page["items"] if i["name"] == "Jacket")
    assert jacket["kind"] == "virtual" and jacket["category"] == "upper_body"
    assert jacket["brand"]["name"] == "Maison Wardrobe" and jacket["brand"]["id"]
    assert jacket["status"] == "active" and jacket["stolen"] is False
    bag = next(i for i in page["items"] if i["kind"] == "physical")
    assert jacket["physical_twin"] == {"contract": bag["contract"], "token_id": bag["token_id"]}
    assert jacket["license"]["licenseUrl"] == "https://vrm.dev/licenses/1.0/"
    urn = "urn:decentraland:off-chain:base-avatars:"
    assert [r["body_shapes"] for r in jacket["representations"]] == [[urn + "BaseMale"], [urn + "BaseFemale"]]
    gateway = world.stack.runtime.settings.gateway_base
    for rep in jacket["representations"]:
        f = rep["main_file"]
        assert f["url"] == f"{gateway}/{f['cid']}" and f["uri"] == f"ipfs://{f['cid']}"
        assert f["size"] == len(world.models[f["cid"]]) and f["media_type"] == "model/gltf-binary"
        # A game downloads the GLB and checks it against the CID: the multihash is the bytes' SHA-256.
        r = world.client.get(urlsplit(f["url"]).path)
        assert r.status_code == 200 and r.content == world.models[f["cid"]]
        assert CID.parse(f["cid"]).digest == hashlib.sha256(r.content).digest()
    assert jacket["preview"]["cid"] == world.preview and jacket["preview"]["media_type"] == "image/png"
    assert bag["representations"] == [] and bag["category"] is None


def test_filters(world: World) -> None:
    player = world.player.address
    virtual = world.all_pages(player, kind="virtual")
    assert {i["kind"] for i in virtual} == {"virtual"} and len(virtual) == len(world.owned) - 1
    assert [i["name"] for i in world.all_pages(player, kind="physical")] == ["Sac Iconique W-1"]
    assert [i["name"] for i in world.all_pages(player, collection=world.col_b.lower())] == ["Scarf"]
    assert [i["name"] for i in world.all_pages(player, brand=world.brand_b)] == ["Scarf"]
    assert sorted(i["name"] for i in world.all_pages(player, category="upper_body")) == ["Jacket", "Scarf"]
    assert [i["name"] for i in world.all_pages(player, category="upper_body", collection=world.col_a)] == ["Jacket"]
    assert world.all_pages(player, category="gloves") == []
    assert world.all_pages("0x" + "ab" * 20) == []  # nobody's wardrobe is empty, not an error


def test_limit_bounds_and_bad_input(world: World) -> None:
    player = world.player.address
    for limit in (0, 101, -1):
        problem(world.client.get(f"/v1/owners/{player}/twins", params={"limit": limit}), 422, "invalid-input")
    assert len(world.listing(player, limit=100)["items"]) == len(world.owned)
    problem(world.client.get("/v1/owners/0x1234/twins"), 422, "invalid-input")
    problem(world.client.get(f"/v1/owners/{player}/twins", params={"kind": "shoe"}), 422, "invalid-input")


def test_garbage_and_foreign_cursors_are_refused(world: World) -> None:
    player = world.player.address
    first = world.listing(player, limit=2)
    cursor = first["next_cursor"]
    assert cursor is not None
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    for bad in ("garbage", "", "%%%", cursor[:-3], cursor + "AAAA", flipped, "é" * 10):
        problem(world.client.get(f"/v1/owners/{player}/twins", params={"cursor": bad}), 422, "invalid-input")
    # A cursor is bound to its listing: another owner's or other filters' pages refuse it.
    problem(world.client.get(f"/v1/owners/{'0x' + 'ab' * 20}/twins", params={"cursor": cursor}), 422, "invalid-input")
    problem(
        world.client.get(f"/v1/owners/{player}/twins", params={"cursor": cursor, "kind": "virtual"}),
        422,
        "invalid-input",
    )
    # ... and its own listing takes it (with another page size too).
    assert world.listing(player, cursor=cursor, limit=1)["items"]


def test_pages_stay_stable_while_twins_are_minted_between_them(world: World) -> None:
    custodian = world.stack.runtime.chain.sender.address  # unclaimed twins stay with the custodian
    world.mint(world.b, [{"kind": "virtual", **_plain(world, f"Stock {i}", brand_b=True)} for i in range(3)])
    world.index()
    before = world.all_pages(custodian)
    assert len(before) >= 5 and len(set(keys(before))) == len(before)
    seen: list[dict[str, Any]] = []
    page = world.listing(custodian, limit=2)
    seen += page["items"]
    # New twins in both collections land mid-listing (before and after the cursor's position).
    fresh = world.mint(world.a, [{"kind": "virtual", **_plain(world, "Late A")}]) + world.mint(
        world.b, [{"kind": "virtual", **_plain(world, "Late B", brand_b=True)}]
    )
    world.index()
    while page["next_cursor"]:
        page = world.listing(custodian, limit=2, cursor=page["next_cursor"])
        seen += page["items"]
    got = keys(seen)
    assert len(got) == len(set(got)), "an item came twice"
    assert set(keys(before)) <= set(got), "an item was skipped"
    assert got == sorted(got), "pages are in (collection, token id) order"
    # What was minted meanwhile is listed now, exactly once.
    assert {(t["contract"], t["token_id"]) for t in fresh} <= set(keys(world.all_pages(custodian)))


def _plain(world: World, name: str, *, brand_b: bool = False) -> dict[str, Any]:
    model = next(c for c in world.models if (c == list(world.models)[-1]) == brand_b)
    preview = world.preview if not brand_b else world.stack.upload(world.b, b"\x89PNG\r\n\x1a\n" + b"\x01" * 36)
    return {"name": name, "representations": [{"body_shapes": ["BaseMale"], "model": model}], "preview_image": preview}
