"""`twinmark rebuild`: drop the index and rebuild it from the chain and IPFS alone."""

from __future__ import annotations

from sqlalchemy import delete

from registry.db.engine import session_scope
from registry.events.models import ChainEvent, OwnerDay
from registry.indexer.models import IndexCursor
from registry.indexer.service import Indexer
from registry.twins.models import Twin


def rebuild(indexer: Indexer) -> int:
    """Empties events (and their owner-event days), cursor and twins, then re-indexes from block 0
    (no webhook re-deliveries).

    Brands, keys, jobs and the outbox history are the service's own records, not an index, and stay.
    """
    if not indexer.lease.hold():
        raise RuntimeError("another indexer holds the lease for this chain; stop it first")
    with session_scope(indexer.engine) as s:
        s.execute(delete(Twin))
        s.execute(delete(ChainEvent))
        s.execute(delete(OwnerDay))
        s.execute(delete(IndexCursor).where(IndexCursor.chain_id == indexer.chain_id))  # type: ignore[arg-type]
    indexer.forget()
    replay = indexer.deliveries
    indexer.deliveries = False
    try:
        return indexer.catch_up()
    finally:
        indexer.deliveries = replay
