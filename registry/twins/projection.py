"""Writing twin rows from either side: the mint worker (right after its own mint) and the indexer
(from chain events and IPFS). Whoever comes second fills in what it knows and never duplicates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, tuple_
from sqlmodel import Session, col, select

from registry.twins.models import Twin

CLAIM_KEYS_FILE = "claim-keys.json"  # published in a claimable batch's directory: (token id, claim key) leaves


def upsert_twins(
    session: Session, rows: list[dict[str, Any]], *, fill: tuple[str, ...], force: tuple[str, ...] = ()
) -> None:
    """Inserts missing twins; for existing ones sets the `fill` fields that are still empty and
    overwrites the `force` fields (the indexer's chain-derived truth wins over what the API wrote)."""
    if not rows:
        return
    keys = [(r["collection"], r["token_id"]) for r in rows]
    existing: dict[tuple[str, int], Twin] = {}
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        for twin in session.exec(select(Twin).where(tuple_(col(Twin.collection), col(Twin.token_id)).in_(part))):
            existing[(twin.collection, twin.token_id)] = twin
    fresh = [r for r in rows if (r["collection"], r["token_id"]) not in existing]
    if fresh:
        session.execute(insert(Twin), fresh)
    for row in rows:
        known = existing.get((row["collection"], row["token_id"]))
        if known is None:
            continue
        for field in fill:
            if getattr(known, field) in (None, "") and row.get(field) is not None:
                setattr(known, field, row[field])
        for field in force:
            if getattr(known, field) != row.get(field):
                setattr(known, field, row.get(field))
