"""How chain events are told to partners: `describe` (type and data), `public_event` (the delivered
event, with a stable id) and `matches` (the webhook and stream filters)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from registry.chain.logs import COLLECTION_EVENTS, REGISTRY_EVENTS, checksum, decode
from registry.events.public import TYPES, describe, event_id, matches, public_event
from registry.ipfs.cid import CID
from registry.ipfs.store import LocalBlockStore, add_bytes, add_directory
from tests.contracts.chain import STOLEN, VIRTUAL, Deployment, claim_args, mint, mint_claimable

ZERO = "0x" + "00" * 20
BRAND = "0x1111111111111111111111111111111111111111"
HOLDER = "0x2222222222222222222222222222222222222222"
BUYER = "0x3333333333333333333333333333333333333333"
COLLECTION = "0xAbCdEf0000000000000000000000000000000001"
BLOCK_HASH = "0x" + "ab" * 32
TX_HASH = "0x" + "cd" * 32


def _hex_cid(cid: CID) -> str:
    return "0x" + cid.to_bytes().hex()


def _log(log_index: int = 3, *, tx_hash: str = TX_HASH, block_hash: str = BLOCK_HASH) -> dict[str, Any]:
    """A raw log's envelope as eth_getLogs returns it (quantities as hex)."""
    return {
        "address": COLLECTION,
        "blockHash": block_hash,
        "blockNumber": hex(1234),
        "transactionHash": tx_hash,
        "logIndex": hex(log_index),
    }


def _minted_args(batch_id: int, size: int, anchor: str, claim_root: str = "0x" + "00" * 32) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "minter": BRAND,
        "custodian": HOLDER,
        "size": size,
        "kind": 0,
        "anchor": anchor,
        "claimRoot": claim_root,
    }


# ---------------------------------------------------------------- describe


def test_minted_reports_the_token_range_and_directory(tmp_path: Path) -> None:
    """A batch of `size` twins with id b covers tokens b*10_000+1 .. b*10_000+size; its anchor (the
    directory's sha2-256 digest) is told as the directory's CIDv1, and a non-zero claim root as claimable."""
    directory = add_directory(LocalBlockStore(tmp_path), {"1": b"{}", "2": b"[]"}).cid
    anchor = "0x" + directory.digest.hex()
    for batch_id, size in [(1, 1), (7, 250), (123_456, 4096)]:
        described = describe("BatchMinted", _minted_args(batch_id, size, anchor))
        assert described is not None
        kind, data = described
        assert kind == "minted"
        assert data["first_token_id"] == int(f"{batch_id}0001") == batch_id * 10_000 + 1
        assert data["last_token_id"] == batch_id * 10_000 + size
        assert data["last_token_id"] - data["first_token_id"] + 1 == size
        assert data["batch_id"] == batch_id
        assert (data["kind"], data["minter"], data["custodian"]) == ("physical", BRAND, HOLDER)
        assert data["batch_directory"] == str(directory)
        assert data["claimable"] is False
    virtual = describe("BatchMinted", _minted_args(2, 3, anchor, "0x" + "00" * 31 + "01") | {"kind": 1})
    assert virtual is not None
    assert virtual[1]["claimable"] is True and virtual[1]["kind"] == "virtual"


def test_transfers_are_told_once() -> None:
    """A mint's transfers (from zero) and a claim's transfer are told by `minted` / `claimed`; other
    transfers are `transferred`, and a transfer to zero is `burned`."""
    assert describe("Transfer", {"from": ZERO, "to": HOLDER, "tokenId": 10_001}) is None
    moved = {"from": HOLDER, "to": BUYER, "tokenId": 10_001}
    assert describe("Transfer", moved) == ("transferred", {"from": HOLDER, "to": BUYER})
    assert describe("Transfer", moved, in_claim=True) is None
    assert describe("Transfer", {"from": BUYER, "to": ZERO, "tokenId": 10_001}) == ("burned", {"from": BUYER})


def test_twin_events_and_their_data(tmp_path: Path) -> None:
    """Claimed, StatusChanged (status by name), ServiceRecorded and ContentUpdated (binary CIDs as text)."""
    store = LocalBlockStore(tmp_path)
    record = add_bytes(store, b'{"service": "re-stitched handle"}').cid
    content = add_bytes(store, b'{"name": "Sac Iconique (repaired)"}').cid
    assert describe("Claimed", {"tokenId": 10_001}) == ("claimed", {})
    for code, name in [(0, "active"), (1, "lost"), (2, "stolen")]:
        assert describe("StatusChanged", {"tokenId": 1, "status": code, "by": BRAND}) == (
            "status_changed",
            {"status": name, "by": BRAND},
        )
    assert describe("ServiceRecorded", {"tokenId": 1, "provider": BUYER, "recordCid": _hex_cid(record)}) == (
        "service_recorded",
        {"provider": BUYER, "record_cid": str(record)},
    )
    assert describe("ContentUpdated", {"tokenId": 1, "cid": _hex_cid(content), "by": BRAND}) == (
        "content_updated",
        {"cid": str(content), "by": BRAND},
    )


def test_links_are_described_but_not_delivered() -> None:
    """TwinLinked has a description (`linked`) for timelines, but is no partner event type."""
    args = {"tokenId": 20_001, "physicalCollection": COLLECTION, "physicalTokenId": 10_001}
    assert describe("TwinLinked", args) == (
        "linked",
        {"physical_collection": COLLECTION, "physical_token_id": 10_001},
    )
    assert "linked" not in TYPES
    assert public_event(_log(), "TwinLinked", args, set()) is None


@pytest.mark.parametrize(
    "name",
    ["BrandRegistered", "CollectionCreated", "BrandCompromised", "MetadataUpdate", "Approval", "MinterSet"],
)
def test_registry_and_housekeeping_events_are_not_described(name: str) -> None:
    """Events that are not about a twin's life have no description and are never delivered."""
    assert describe(name, {"tokenId": 1}) is None
    assert public_event(_log(), name, {"tokenId": 1}, set()) is None


# ---------------------------------------------------------------- public_event and ids


def test_public_event_envelope() -> None:
    """The delivered event carries the log's coordinates (hex quantities decoded), the type and data;
    `minted` has no single token id."""
    moved = public_event(_log(26), "Transfer", {"from": HOLDER, "to": BUYER, "tokenId": 10_002}, set())
    assert moved == {
        "id": event_id(BLOCK_HASH, TX_HASH, 26),
        "type": "transferred",
        "contract": COLLECTION,
        "token_id": 10_002,
        "block_number": 1234,
        "block_hash": BLOCK_HASH,
        "tx_hash": TX_HASH,
        "log_index": 26,
        "data": {"from": HOLDER, "to": BUYER},
    }
    minted = public_event(_log(0), "BatchMinted", _minted_args(3, 5, "0x" + "11" * 32), set())
    assert minted is not None and minted["type"] == "minted" and minted["token_id"] is None


def test_claim_transactions_hide_their_transfer() -> None:
    """The same transfer log is delivered as `transferred` unless its transaction is a claim."""
    args = {"from": HOLDER, "to": BUYER, "tokenId": 10_002}
    assert public_event(_log(), "Transfer", args, {TX_HASH}) is None
    assert public_event(_log(), "Transfer", args, {"0x" + "ef" * 32}) is not None


def test_event_ids_are_stable_and_distinct() -> None:
    """Same log, same id (redeliveries can be dropped); another log index, transaction or block
    (a reorganisation) gives another id."""
    first = event_id(BLOCK_HASH, TX_HASH, 0)
    assert first == event_id(BLOCK_HASH, TX_HASH, 0)
    assert first.startswith("evt_") and len(first) == 36 and int(first[4:], 16) >= 0
    ids = {event_id(BLOCK_HASH, TX_HASH, i) for i in range(500)}
    ids |= {event_id("0x" + "ee" * 32, TX_HASH, 0), event_id(BLOCK_HASH, "0x" + "ee" * 32, 0)}
    assert len(ids) == 502
    # The id is a digest of the log's coordinates, not of their concatenation without separators.
    assert event_id(BLOCK_HASH, TX_HASH, 12) != event_id(BLOCK_HASH, TX_HASH + "1", 2)
    assert first[4:] == hashlib.sha256(f"{BLOCK_HASH}:{TX_HASH}:0".encode()).hexdigest()[:32]


# ---------------------------------------------------------------- matches


def _event(kind: str, token_id: int | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": kind, "contract": COLLECTION, "token_id": token_id, "data": data or {}}


def test_filters_by_type_and_collection() -> None:
    """An empty type set takes every type; the collection compares case-insensitively."""
    claimed = _event("claimed", 10_001)
    assert matches(claimed, set(), None, None)
    assert matches(claimed, {"claimed", "burned"}, None, None)
    assert not matches(claimed, {"transferred"}, None, None)
    assert matches(claimed, set(), COLLECTION.lower(), None)
    assert matches(claimed, set(), COLLECTION.upper().replace("0X", "0x"), None)
    assert not matches(claimed, set(), "0x" + "99" * 20, None)


def test_filters_by_token() -> None:
    """A token filter keeps events about that token, and `minted` events whose range holds it."""
    minted = _event("minted", None, {"first_token_id": 70_001, "last_token_id": 70_250})
    for token in (70_001, 70_100, 70_250):
        assert matches(minted, set(), None, token)
    for token in (70_000, 70_251, 80_001):
        assert not matches(minted, set(), None, token)
    burned = _event("burned", 70_100)
    assert matches(burned, set(), None, 70_100)
    assert not matches(burned, set(), None, 70_101)
    assert not matches(burned, {"minted"}, None, 70_100)
    assert not matches(minted, set(), "0x" + "99" * 20, 70_100)


# ---------------------------------------------------------------- real logs from the chain


def _raw_logs(d: Deployment, address: str, start: int) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = d.chain.w3.provider.make_request(  # type: ignore[assignment]
        "eth_getLogs",  # type: ignore[arg-type]
        [{"fromBlock": hex(start), "toBlock": "latest", "address": address}],
    )["result"]
    return result


def test_a_twins_life_on_chain_is_told_in_order(d: Deployment, tmp_path: Path) -> None:
    """Real logs of a mint, claim, transfer, theft report, content update, service record, burn, a
    virtual mint and a link, decoded as the indexer does, give exactly the partner events expected."""
    store = LocalBlockStore(tmp_path)
    content = add_bytes(store, b'{"name": "repaired"}').cid
    record = add_bytes(store, b'{"service": "polish"}').cid
    start = d.chain.w3.eth.block_number + 1
    batch = mint_claimable(d, 4)
    f = batch.first
    buyer, retailer = d.chain.new_account().address, d.chain.new_account().address
    claim = d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, f, buyer)), d.operator)
    d.chain.send(d.col_a.functions.transferFrom(d.minter_a, retailer, f + 1), d.minter_a)
    d.chain.send(d.col_a.functions.setStatusByBrand(f + 2, STOLEN), d.minter_a)
    d.chain.send(d.col_a.functions.updateContent(f + 3, content.to_bytes()), d.minter_a)
    d.chain.send(d.col_a.functions.recordService(f + 3, record.to_bytes()), d.provider_a)
    d.chain.send(d.col_a.functions.burn(f + 1), retailer)
    virtual, _ = mint(d, 1, kind=VIRTUAL)
    d.chain.send(d.col_a.functions.linkPhysical(virtual, d.col_a.address, f + 3), d.minter_a)

    # As the indexer does: checksummed addresses, then (name, args) from the collection's ABI.
    raws = [raw | {"address": checksum(raw["address"])} for raw in _raw_logs(d, d.col_a.address, start)]
    decoded = [(raw, *named) for raw in raws if (named := decode(raw, COLLECTION_EVENTS))]
    names = [name for _, name, _ in decoded]
    assert names.count("Transfer") == 4 + 1 + 1 + 1 + 1  # mints, claim, transfer, burn, virtual mint
    claim_txs = {raw["transactionHash"] for raw, name, _ in decoded if name == "Claimed"}
    assert claim_txs == {claim["transactionHash"].to_0x_hex()}
    events = [e for raw, name, args in decoded if (e := public_event(raw, name, args, claim_txs))]
    assert [(e["type"], e["token_id"]) for e in events] == [
        ("minted", None),
        ("claimed", f),
        ("transferred", f + 1),
        ("status_changed", f + 2),
        ("content_updated", f + 3),
        ("service_recorded", f + 3),
        ("burned", f + 1),
        ("minted", None),
    ]
    minted, _, moved, stolen, updated, serviced, burned, minted_virtual = events
    assert (minted["data"]["first_token_id"], minted["data"]["last_token_id"]) == (f, f + 3)
    assert minted["data"]["claimable"] is True and minted["data"]["custodian"] == d.minter_a
    assert minted_virtual["data"]["kind"] == "virtual"
    assert minted_virtual["data"]["first_token_id"] == minted_virtual["data"]["last_token_id"] == virtual
    assert moved["data"] == {"from": d.minter_a, "to": retailer}
    assert stolen["data"] == {"status": "stolen", "by": d.minter_a}
    assert updated["data"] == {"cid": str(content), "by": d.minter_a}
    assert serviced["data"] == {"provider": d.provider_a, "record_cid": str(record)}
    assert burned["data"] == {"from": retailer}
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["contract"] == d.col_a.address for e in events)
    # The minted events match the tokens they created, and only those.
    assert [matches(minted, set(), None, t) for t in (f - 1, f, f + 3, f + 4)] == [False, True, True, False]
    assert [e["type"] for e in events if matches(e, set(), d.col_a.address.lower(), f + 3)] == [
        "minted",
        "content_updated",
        "service_recorded",
    ]


def test_registry_logs_are_not_delivered(d: Deployment) -> None:
    """The registry's own logs (brands registered, collections created) decode but are never partner events."""
    decoded = [named for raw in _raw_logs(d, d.registry.address, 0) if (named := decode(raw, REGISTRY_EVENTS))]
    assert {"BrandRegistered", "CollectionCreated"} <= {name for name, _ in decoded}
    assert all(describe(name, args) is None for name, args in decoded)
