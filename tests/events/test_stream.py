"""The stream's replay runs its filters in SQL: a partner resuming from an old id gets its next
matching event from the first page, however many other events lie between."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from registry.chain.layout import ID_STRIDE
from registry.chain.logs import checksum
from registry.db.engine import make_engine, migrate, session_scope
from registry.events.models import ChainEvent
from registry.events.stream import events_after

MINE = checksum("0xabcdef0000000000000000000000000000000001")  # as the indexer stores addresses
OTHER = checksum("0x00000000000000000000000000000000000000aa")
PEOPLE = ("0x" + "11" * 20, "0x" + "22" * 20)


def _row(i: int, address: str, name: str, token: int | None, args: dict[str, object]) -> dict[str, object]:
    return {
        "block_number": i,
        "block_hash": f"0x{i:064x}",
        "tx_hash": f"0x{i + 7:064x}",
        "log_index": 0,
        "address": address,
        "name": name,
        "token_id": token,
        "args": json.dumps(args),
        "block_time": 1_700_000_000 + i,
    }


def _transfer(i: int, address: str, token: int) -> dict[str, object]:
    return _row(i, address, "Transfer", token, {"from": PEOPLE[0], "to": PEOPLE[1], "tokenId": token})


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'stream.db'}")
    migrate(engine)
    batch = {
        "batchId": 1,
        "minter": PEOPLE[0],
        "custodian": PEOPLE[0],
        "size": 5,
        "kind": 0,
        "anchor": "0x" + "12" * 32,
        "claimRoot": "0x" + "00" * 32,
    }
    rows = [_transfer(i, OTHER, ID_STRIDE + 1 + i % 5) for i in range(3_000)]  # six pages of others' events
    rows += [
        _row(3_000, MINE, "BatchMinted", ID_STRIDE + 1, batch),
        _transfer(3_001, MINE, ID_STRIDE + 3),
        _transfer(3_002, MINE, ID_STRIDE + 4),
    ]
    with session_scope(engine) as s:
        s.execute(insert(ChainEvent), rows)
    return engine


def test_a_filtered_resume_skips_the_others_in_one_page(engine: Engine) -> None:
    reached, found = events_after(engine, 0, set(), MINE.lower(), None)  # any spelling of the address
    assert [e["type"] for _, e in found] == ["minted", "transferred", "transferred"]
    assert reached == found[-1][0] and reached > 3_000


def test_type_and_token_filters(engine: Engine) -> None:
    _, minted = events_after(engine, 0, {"minted"}, MINE, None)
    assert [e["type"] for _, e in minted] == ["minted"]
    # Token 10_003: its batch's mint and its own transfer, not token 10_004's.
    _, token = events_after(engine, 0, set(), MINE, ID_STRIDE + 3)
    assert [(e["type"], e["token_id"]) for _, e in token] == [("minted", None), ("transferred", ID_STRIDE + 3)]
    # A token past the batch's size is in no mint.
    _, beyond = events_after(engine, 0, set(), MINE, ID_STRIDE + 6)
    assert beyond == []


def test_unfiltered_pages_keep_their_order(engine: Engine) -> None:
    reached, page = events_after(engine, 0, set(), None, None, limit=500)
    assert len(page) == 500 and reached == page[-1][0]
    assert [i for i, _ in page] == sorted(i for i, _ in page)
    again, _ = events_after(engine, reached, set(), None, None, limit=500)
    assert again > reached
