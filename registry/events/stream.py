"""Reading indexed events in order, for the resumable event stream."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.events.models import ChainEvent
from registry.events.public import matches, public_event


def events_after(
    engine: Engine, after: int, types: set[str], collection: str | None, token: int | None, *, limit: int = 500
) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    """The matching events among the next `limit` indexed after stream id `after`, and the last id looked at."""
    with session_scope(engine) as s:
        rows = s.exec(
            select(ChainEvent).where(col(ChainEvent.id) > after).order_by(col(ChainEvent.id)).limit(limit)
        ).all()
        txs = [r.tx_hash for r in rows if r.name == "Transfer"]
        claim_txs = (
            set(
                s.exec(
                    select(ChainEvent.tx_hash).where(col(ChainEvent.tx_hash).in_(txs), ChainEvent.name == "Claimed")
                ).all()
            )
            if txs
            else set()
        )
    out = []
    for r in rows:
        raw = {
            "address": r.address,
            "blockHash": r.block_hash,
            "transactionHash": r.tx_hash,
            "logIndex": hex(r.log_index),
            "blockNumber": hex(r.block_number),
        }
        event = public_event(raw, r.name, json.loads(r.args), claim_txs)
        if event is None or not matches(event, types, collection, token):
            continue
        assert r.id is not None
        out.append((r.id, event))
    return (rows[-1].id or after) if rows else after, out
