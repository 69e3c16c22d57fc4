"""Claims and resales per collection and UTC day (`owner_days`): what the brand's numbers by day and
by collection read (`registry.scans.service.aggregates`), instead of counting the events at each ask.

What counts (`counted`, which the per-twin view still runs over the events of its range): a claim is
a `Claimed` event; a resale a `Transfer` from one holder to another that is neither a mint, a burn, a
claim's own transfer (a `Claimed` of the token in the same transaction) nor a transfer out of a
custodian of any of the brand's collections (a `BatchMinted` recipient: the brand's first sale out of
its stock).

The indexer keeps the rollup in the transaction that stores events or drops them (a reorganisation):
it recounts, from the events, every (collection, day) the changed events fall on (`touched`, then
`recount`), so the rollup equals a recount at every commit. A custodian appearing or disappearing
changes what earlier transfers from it are: the days of those transfers are recounted too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from registry.brands.models import Collection
from registry.events.models import ChainEvent, OwnerDay

DAY = 86_400  # block times are unix seconds: a UTC day is their integer division by this
EPOCH = date(1970, 1, 1)
OWNER_EVENTS = ("Claimed", "Transfer")

Touched = dict[str, set[int]]  # collection address -> days (since the epoch) to recount


def day_of(days: int) -> date:
    return EPOCH + timedelta(days=days)


def counted(addresses: Any, family: Any, start: int | None = None, end: int | None = None, *, by_token: bool) -> Any:
    """Claims and resales of the events of `addresses` with a block time in [start, end) (unix seconds),
    per (day since the epoch, address[, token]); custodians are those of the collections `family`
    (a brand's: a list or a subquery of addresses)."""
    e: Any = ChainEvent
    claim: Any = aliased(ChainEvent)
    # A transaction lies in one block: naming its block first reads the (block_hash, tx_hash, ...) index.
    claim_of_tx = (
        select(claim.id)
        .where(
            claim.name == "Claimed",
            claim.block_hash == e.block_hash,
            claim.tx_hash == e.tx_hash,
            claim.token_id == e.token_id,
        )
        .exists()
    )
    minted: Any = aliased(ChainEvent)
    # Uncorrelated: read once (correlated on the event's address, it ran once per event).
    custodians = select(minted.recipient).where(
        minted.name == "BatchMinted", minted.address.in_(family), minted.recipient.is_not(None)
    )
    resale = (
        (e.name == "Transfer")
        & e.sender.is_not(None)  # not a mint
        & e.recipient.is_not(None)  # not a burn
        & ~claim_of_tx
        & e.sender.not_in(custodians)  # not the brand's first sale out of its stock
    )
    keys = [(e.block_time // DAY).label("days"), e.address] + ([e.token_id] if by_token else [])
    query = select(
        *keys,
        func.sum(case((e.name == "Claimed", 1), else_=0)).label("claims"),
        func.sum(case((resale, 1), else_=0)).label("resales"),
    ).where(e.address.in_(addresses), e.name.in_(OWNER_EVENTS), e.block_time.is_not(None))
    if start is not None:
        query = query.where(e.block_time >= start)
    if end is not None:
        query = query.where(e.block_time < end)
    return query.group_by(*keys)


def family(s: Session, address: str) -> list[str]:
    """The collections of the brand of `address` (itself alone if no brand has it)."""
    brand = select(col(Collection.brand_id)).where(col(Collection.address) == address).scalar_subquery()
    found = [
        str(a) for a in s.execute(select(col(Collection.address)).where(col(Collection.brand_id) == brand)).scalars()
    ]
    return found or [address]


def touched(s: Session, events: Iterable[Mapping[str, Any]]) -> Touched:
    """The (collection, day) pairs to recount for `events` (column values) being stored or dropped.
    Called where the events are not in the index (before the insert, after the delete): a batch's
    custodian not otherwise known there changes whether its transfers are resales."""
    out: Touched = defaultdict(set)
    custodians: set[tuple[str, str]] = set()
    for e in events:
        moved = e["name"] == "Transfer" and e["sender"] is not None and e["recipient"] is not None
        if (e["name"] == "Claimed" or moved) and e["block_time"] is not None:  # mints and burns never count
            out[e["address"]].add(int(e["block_time"]) // DAY)
        elif e["name"] == "BatchMinted" and e["recipient"] is not None:
            custodians.add((e["address"], e["recipient"]))
    m: Any = ChainEvent
    for address, custodian in custodians:
        brand = family(s, address)
        known = select(m.id).where(m.address.in_(brand), m.name == "BatchMinted", m.recipient == custodian).limit(1)
        if s.execute(known).first() is not None:
            continue  # a custodian before and after: nothing it sent changes
        sent = (
            select(m.address, m.block_time // DAY)
            .where(m.sender == custodian, m.name == "Transfer", m.address.in_(brand), m.block_time.is_not(None))
            .distinct()
        )
        for collection, days in s.execute(sent):
            out[collection].add(int(days))
    return out


def recount(s: Session, pairs: Touched) -> None:
    """Replaces each collection's rows from its first to its last day in `pairs` with a recount."""
    for address, days in pairs.items():
        if not days:
            continue
        first, last = min(days), max(days)
        o: Any = OwnerDay
        s.execute(delete(o).where(o.collection == address, o.day >= day_of(first), o.day <= day_of(last)))
        query = counted([address], family(s, address), first * DAY, (last + 1) * DAY, by_token=False)
        rows = [
            {"collection": address, "day": day_of(int(n)), "claims": int(claims), "resales": int(resales)}
            for n, _, claims, resales in s.execute(query)
            if claims or resales
        ]
        if rows:
            s.execute(insert(OwnerDay), rows)


def recount_all(s: Session) -> None:
    """Rebuilds the whole rollup from the events (a bulk load; the migration restates this)."""
    s.execute(delete(OwnerDay))
    e: Any = ChainEvent
    spans = select(e.address, func.min(e.block_time) // DAY, func.max(e.block_time) // DAY).where(
        e.name.in_(OWNER_EVENTS), e.block_time.is_not(None)
    )
    recount(s, {a: {int(lo), int(hi)} for a, lo, hi in s.execute(spans.group_by(e.address))})
