"""Owner listings under abuse: `fresh=true` hammered by an anonymous client, a page of 100 re-checked
within a node's batch cap, a filter that matches none of the custodian's many twins, and a twin whose
indexed metadata is malformed."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from registry.twins.models import Twin
from registry.wardrobe import service
from tests.siwe.conftest import sign_in
from tests.support.server import serve
from tests.wardrobe.conftest import World, keys, virtual

BULK = 100


@pytest.fixture(scope="module")
def custodian(world: World) -> str:
    """The service's custodian address, owning (unclaimed) at least BULK + the world's own twins."""
    model, preview = list(world.models)[2], world.preview
    world.mint(world.a, [virtual(f"Bulk {i}", model, preview, category="tiara") for i in range(BULK)])
    world.index()
    with Session(world.stack.runtime.engine) as s:
        first = s.get(Twin, next(iter(world.secrets)))
        assert first is not None and first.owner is not None
        return first.owner


def _count(world: World, owner: str) -> int:
    with Session(world.stack.runtime.engine) as s:
        return len(s.exec(select(Twin.token_id).where(Twin.owner == owner, col(Twin.burned).is_(False))).all())


def test_fresh_listings_are_limited_per_caller(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.stack.runtime.settings, "fresh_listings_per_minute", 3)
    url = f"/v1/owners/{world.player.address}/twins"
    with serve(world.client.app) as base, httpx.Client(base_url=base, timeout=30) as http:
        codes = [http.get(url, params={"fresh": "true"}).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        refused = http.get(url, params={"fresh": "true"})
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/too-many-requests") and int(refused.headers["retry-after"]) >= 1
        assert http.get(url).status_code == 200  # the index-only listing is not limited
        # A signed-in player is counted by address, apart from the client address it calls from.
        token = sign_in(world.stack, world.player).json()["token"]
        mine = http.get("/v1/me/twins", params={"fresh": "true"}, headers={"Authorization": f"Bearer {token}"})
        assert mine.status_code == 200, mine.text


def test_a_page_of_100_is_rechecked_in_chunks_and_once_per_block(
    world: World, custodian: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w3 = world.stack.runtime.w3
    batches: list[int] = []
    send = w3.provider.make_batch_request  # type: ignore[attr-defined]

    def counted(calls: list[Any]) -> Any:
        batches.append(len(calls))
        return send(calls)

    monkeypatch.setattr(w3.provider, "make_batch_request", counted)
    fresh = world.listing(custodian, limit=100, fresh="true")
    assert len(fresh["items"]) == 100 and fresh["fresh"]["moved"] == []
    assert max(batches) <= 50 and sum(batches) == 100 + 1, batches  # a report per item, the block again
    assert keys(fresh["items"]) == keys(world.listing(custodian, limit=100)["items"])
    # Polled again at the same head: answered from the per-block cache, no batch at all.
    again = world.listing(custodian, limit=100, fresh="true")
    assert again["fresh"]["head"] == fresh["fresh"]["head"] and keys(again["items"]) == keys(fresh["items"])
    assert sum(batches) == 101


def test_a_filter_matching_nothing_scans_a_bounded_number_of_rows(
    world: World, custodian: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SCAN_BUDGET", 30)
    owned = _count(world, custodian)
    assert owned > 3 * 30
    pages, cursor = 0, None
    while True:
        page = world.listing(custodian, category="nope", limit=50, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert page["items"] == []
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages in (math.ceil(owned / 30), math.ceil(owned / 30) + 1)
    # A filter that does match still yields every match across the bounded pages, in order, once.
    found = world.all_pages(custodian, category="tiara", limit=7)
    assert len(found) == BULK and len(set(keys(found))) == BULK and keys(found) == sorted(keys(found))


def test_a_malformed_twin_does_not_break_the_listing(world: World) -> None:
    owner = "0x" + os.urandom(20).hex()
    collection = "0x" + os.urandom(20).hex()
    owner_cs = world.stack.runtime.w3.to_checksum_address(owner)
    broken = {
        1: {"twinmark": {"wearable": {"physical_twin": {"contract": 7, "token_id": "not a number"}}}},
        2: {"twinmark": {"wearable": {"representations": [{"mainFile": "ipfs://bafkreiaaaa", "contentType": 5}]}}},
        3: {"twinmark": {"wearable": {"category": "feet", "license": {"licenseUrl": "https://vrm.dev/"}}}},
    }
    with Session(world.stack.runtime.engine) as s:
        for token_id, meta in broken.items():
            s.add(
                Twin(
                    collection=world.stack.runtime.w3.to_checksum_address(collection),
                    token_id=token_id,
                    batch_id=1,
                    kind="virtual",
                    name=f"Planted {token_id}",
                    metadata_cid="bafymeta",
                    dir_cid="bafydir",
                    token_uri=f"ipfs://bafydir/{token_id}",
                    tx_hash="0x",
                    block_number=1,
                    metadata_json=json.dumps(meta),
                    owner=owner_cs,
                )
            )
        s.commit()
    page = world.listing(owner_cs)
    by_name = {i["name"]: i for i in page["items"]}
    assert set(by_name) == {"Planted 1", "Planted 2", "Planted 3"}
    assert by_name["Planted 1"]["malformed"] and by_name["Planted 1"]["physical_twin"] is None
    assert by_name["Planted 2"]["malformed"] and by_name["Planted 2"]["representations"] == []
    assert not by_name["Planted 3"]["malformed"] and by_name["Planted 3"]["category"] == "feet"
    assert world.listing(owner_cs, category="feet")["items"][0]["name"] == "Planted 3"
