"""Reading indexed events in order, for the resumable event stream.

The filters run in SQL (event names, contract, token, owner as sender or recipient: all indexed
columns), so resuming from an old id costs one indexed query per page of *matching* events, whatever
the history length; the public form of each row (`public_event`) is then checked once more with the
same `matches` as webhooks."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, or_, select

from registry.chain.layout import batch_of, first_token
from registry.chain.logs import checksum
from registry.db.engine import session_scope
from registry.events.models import ChainEvent
from registry.events.public import matches, public_event

# The chain events each public type comes from (`registry.events.public.describe`).
NAMES: dict[str, tuple[str, ...]] = {
    "minted": ("BatchMinted",),
    "claimed": ("Claimed",),
    "transferred": ("Transfer",),
    "burned": ("Transfer",),
    "status_changed": ("StatusChanged",),
    "service_recorded": ("ServiceRecorded",),
    "content_updated": ("ContentUpdated",),
}


def events_after(
    engine: Engine,
    after: int,
    types: set[str],
    collection: str | None,
    token: int | None,
    *,
    owner: str | None = None,
    limit: int = 500,
) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    """The matching events among the next `limit` indexed after stream id `after`, and the last id
    looked at. `owner`: events moving a twin from or to that address (sender or recipient)."""
    query = select(ChainEvent).where(col(ChainEvent.id) > after)
    if owner is not None:
        party = checksum(owner)  # as the indexer stores addresses
        query = query.where(or_(col(ChainEvent.sender) == party, col(ChainEvent.recipient) == party))
    if types:
        query = query.where(col(ChainEvent.name).in_({name for t in types for name in NAMES[t]}))
    if collection is not None:
        query = query.where(ChainEvent.address == checksum(collection))
    if token is not None:
        query = query.where(
            or_(
                (col(ChainEvent.token_id) == token) & (col(ChainEvent.name) != "BatchMinted"),
                (col(ChainEvent.token_id) == first_token(batch_of(token))) & (col(ChainEvent.name) == "BatchMinted"),
            )
        )
    with session_scope(engine) as s:
        rows = s.exec(query.order_by(col(ChainEvent.id)).limit(limit)).all()
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
        event = public_event(raw, r.name, json.loads(r.args), claim_txs, moved=(r.sender, r.recipient))
        if event is None or not matches(event, types, collection, token, owner):
            continue
        assert r.id is not None
        out.append((r.id, event))
    return (rows[-1].id or after) if rows else after, out
