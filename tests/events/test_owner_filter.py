"""Ownership notices: who each event moves a twin from and to (`parties`), the owner filter of
webhooks and of the stream (`matches`), run in SQL for the stream, and the backfill of events indexed
before the columns existed (migration 0009)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, text

from registry.chain.layout import ID_STRIDE
from registry.chain.logs import COLLECTION_EVENTS, checksum, decode
from registry.db.engine import MIGRATIONS, make_engine, migrate, session_scope
from registry.events.models import ChainEvent
from registry.events.public import matches, parties, public_event
from registry.events.stream import events_after
from tests.contracts.chain import Deployment, claim_args, mint_claimable
from tests.events.test_describe import _raw_logs
from tests.events.test_stream import _row

ZERO = "0x" + "00" * 20
PLAYER = checksum("0x" + "a1" * 20)
OTHERS = (checksum("0x" + "11" * 20), checksum("0x" + "22" * 20))
COLLECTION = checksum("0xabcdef0000000000000000000000000000000001")


def test_parties_of_a_real_claim_resale_and_burn(d: Deployment) -> None:
    start = d.chain.w3.eth.block_number + 1
    batch = mint_claimable(d, 2)
    f = batch.first
    buyer, second = d.chain.new_account(), d.chain.new_account().address
    d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, f, buyer.address)), d.operator)
    d.chain.send(d.col_a.functions.transferFrom(buyer.address, second, f), buyer.address)
    d.chain.send(d.col_a.functions.burn(f), second)
    raws = [raw | {"address": checksum(raw["address"])} for raw in _raw_logs(d, d.col_a.address, start)]
    decoded = [(raw, *named) for raw in raws if (named := decode(raw, COLLECTION_EVENTS))]
    moves = parties(decoded)
    claim_txs = {raw["transactionHash"] for raw, name, _ in decoded if name == "Claimed"}
    events = [
        e
        for (raw, name, args), m in zip(decoded, moves, strict=True)
        if (e := public_event(raw, name, args, claim_txs, moved=m))
    ]
    named = [(name, m) for (_, name, _), m in zip(decoded, moves, strict=True)]
    # A mint's own transfers name no one (the batch does); the claim takes its transfer's parties.
    assert named == [
        ("Transfer", (None, None)),
        ("Transfer", (None, None)),
        ("BatchMinted", (None, d.minter_a)),
        ("Transfer", (d.minter_a, buyer.address)),
        ("Claimed", (d.minter_a, buyer.address)),
        ("Transfer", (buyer.address, second)),
        ("Transfer", (second, None)),
    ]
    assert [e["type"] for e in events] == ["minted", "claimed", "transferred", "burned"]
    assert events[1]["data"] == {"from": d.minter_a, "to": buyer.address}
    # The buyer hears of the claim and the resale (any spelling), the second owner of the resale and
    # the burn, the custodian of the mint and the claim; nobody else of anything.
    heard = {
        who: [e["type"] for e in events if matches(e, set(), None, None, who)]
        for who in (
            buyer.address.lower(),
            second.upper().replace("0X", "0x"),
            d.minter_a,
            d.chain.new_account().address,
        )
    }
    assert list(heard.values()) == [["claimed", "transferred"], ["transferred", "burned"], ["minted", "claimed"], []]
    assert [e["type"] for e in events if matches(e, {"transferred"}, d.col_a.address, f, buyer.address)] == [
        "transferred"
    ]
    assert not any(matches(e, set(), "0x" + "99" * 20, None, buyer.address) for e in events)


def _moved(i: int, address: str, token: int, sender: str, recipient: str) -> dict[str, Any]:
    row = _row(i, address, "Transfer", token, {"from": sender, "to": recipient, "tokenId": token})
    return row | {"sender": sender, "recipient": recipient}


def test_the_stream_filters_by_owner_in_sql(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'owners.db'}")
    migrate(engine)
    rows = [_moved(i, COLLECTION, ID_STRIDE + 1, *OTHERS) for i in range(3_000)]  # six pages of others' events
    rows += [
        _moved(3_000, COLLECTION, ID_STRIDE + 2, OTHERS[0], PLAYER),
        _moved(3_001, COLLECTION, ID_STRIDE + 2, PLAYER, OTHERS[1]),
    ]
    with session_scope(engine) as s:
        s.execute(insert(ChainEvent), rows)
    reached, found = events_after(engine, 0, set(), None, None, owner=PLAYER.lower())
    assert [(e["data"]["from"], e["data"]["to"]) for _, e in found] == [(OTHERS[0], PLAYER), (PLAYER, OTHERS[1])]
    assert reached == found[-1][0] and reached > 3_000  # one query past 3,000 others: the filter ran in SQL
    assert events_after(engine, 0, set(), None, None, owner="0x" + "33" * 20) == (0, [])
    _, received = events_after(engine, 0, {"transferred"}, COLLECTION, ID_STRIDE + 2, owner=OTHERS[1])
    assert [e["data"]["to"] for _, e in received] == [OTHERS[1]]


def test_migration_0009_backfills_the_parties_of_earlier_events(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0007")
    mint_tx, claim_tx = f"0x{1:064x}", f"0x{2:064x}"
    old = [
        (1, mint_tx, "BatchMinted", ID_STRIDE + 1, {"batchId": 1, "custodian": OTHERS[0], "size": 1}),
        (2, mint_tx, "Transfer", ID_STRIDE + 1, {"from": ZERO, "to": OTHERS[0], "tokenId": ID_STRIDE + 1}),
        (3, claim_tx, "Transfer", ID_STRIDE + 1, {"from": OTHERS[0], "to": PLAYER, "tokenId": ID_STRIDE + 1}),
        (4, claim_tx, "Claimed", ID_STRIDE + 1, {"tokenId": ID_STRIDE + 1}),
        (5, f"0x{3:064x}", "Transfer", ID_STRIDE + 1, {"from": PLAYER, "to": ZERO, "tokenId": ID_STRIDE + 1}),
        (6, f"0x{4:064x}", "StatusChanged", ID_STRIDE + 1, {"tokenId": ID_STRIDE + 1, "status": 2, "by": PLAYER}),
    ]
    with engine.begin() as conn:
        for i, tx, name, token, args in old:
            conn.execute(
                text(
                    "INSERT INTO chain_events (id, block_number, block_hash, tx_hash, log_index, address, name,"
                    " token_id, args, built) VALUES (:i, :i, :h, :tx, :i, :a, :n, :t, :args, 0)"
                ),
                {
                    "i": i,
                    "h": f"0x{i:064x}",
                    "tx": tx,
                    "a": COLLECTION,
                    "n": name,
                    "t": token,
                    "args": json.dumps(args),
                },
            )
    migrate(engine)
    with engine.connect() as conn:
        got = conn.execute(text("SELECT name, sender, recipient FROM chain_events ORDER BY id")).all()
    assert [tuple(r) for r in got] == [
        ("BatchMinted", None, OTHERS[0]),
        ("Transfer", None, None),
        ("Transfer", OTHERS[0], PLAYER),
        ("Claimed", OTHERS[0], PLAYER),
        ("Transfer", PLAYER, None),
        ("StatusChanged", None, None),
    ]
