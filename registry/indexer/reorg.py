"""Reorganisations: detect that the last indexed block is no longer on the chain, find the last
block both agree on, and rewind everything indexed after it (events and their owner-event days,
twins built from orphaned batches, pending deliveries), handing orphaned mints back to the mint worker."""

from __future__ import annotations

import json
import logging
from collections import defaultdict

from sqlalchemy import Engine, delete
from sqlmodel import col, select

from registry.chain.layout import batch_of, first_token
from registry.db.engine import session_scope
from registry.events import owner_days
from registry.events.models import ChainEvent
from registry.events.public import event_id
from registry.indexer.ingestion import LogSource
from registry.indexer.models import IndexCursor
from registry.indexer.projection import apply_state
from registry.ipfs.store import ContentStore
from registry.jobs.states import lock_batches, reopen_batch
from registry.twins.models import Twin
from registry.webhooks.outbox import cancel_pending

log = logging.getLogger(__name__)


def reorganised(cursor: IndexCursor, source: LogSource) -> bool:
    """Whether the block the cursor last indexed is no longer the chain's block at that height."""
    if cursor.next_block == 0 or cursor.last_hash is None:
        return False
    return source.block_hash(cursor.next_block - 1) != cursor.last_hash


def common_ancestor(engine: Engine, source: LogSource, chain_id: int) -> tuple[int, str | None]:
    """The newest indexed block whose hash the node still reports, and that hash ((-1, None): none)."""
    with session_scope(engine) as s:
        cursor = s.get(IndexCursor, chain_id)
        assert cursor is not None
        blocks = s.exec(
            select(ChainEvent.block_number, ChainEvent.block_hash)
            .where(ChainEvent.block_number < cursor.next_block)
            .distinct()
            .order_by(col(ChainEvent.block_number).desc())
            .limit(512)
        ).all()
    for number, known in blocks:
        if source.block_hash(number) == known:
            return int(number), str(known)
    return -1, None


def rewind(engine: Engine, source: LogSource, store: ContentStore, chain_id: int) -> int:
    """Drops everything indexed after the common ancestor and moves the cursor back; returns the ancestor."""
    ancestor, ancestor_hash = common_ancestor(engine, source, chain_id)
    with session_scope(engine) as s:
        dropped = s.exec(select(ChainEvent).where(ChainEvent.block_number > ancestor)).all()
        log.warning("reorg: rewinding to block %s, dropping %s events", ancestor, len(dropped))
        cancel_pending(
            s,
            [event_id(e.block_hash, e.tx_hash, e.log_index) for e in dropped],
            "event removed by a chain reorganisation",
        )
        touched: dict[str, set[int]] = defaultdict(set)
        minted = [(e.address, batch_of(e.token_id or 0)) for e in dropped if e.name == "BatchMinted"]
        lock_batches(s, minted)  # every orphaned batch's chunks, then their jobs, before changing any
        for e in dropped:
            if e.name == "BatchMinted":
                first = e.token_id or 0
                size = int(json.loads(e.args)["size"])
                # Before deleting its twins: a worker that was recording it has committed (its twins too).
                reopen_batch(s, e.address, batch_of(first))
                s.execute(
                    delete(Twin).where(
                        col(Twin.collection) == e.address, col(Twin.token_id).between(first, first + size - 1)
                    )
                )
            elif e.token_id is not None:
                touched[e.address].add(e.token_id)
        gone = [e.model_dump() for e in dropped]
        s.execute(delete(ChainEvent).where(col(ChainEvent.block_number) > ancestor))
        s.flush()
        owner_days.recount(s, owner_days.touched(s, gone))  # after the delete: which custodians are gone
        for address, tokens in touched.items():
            for token in tokens:
                mint = s.exec(
                    select(ChainEvent).where(
                        ChainEvent.address == address,
                        ChainEvent.name == "BatchMinted",
                        ChainEvent.token_id == first_token(batch_of(token)),
                    )
                ).first()
                if mint is not None:
                    apply_state(s, address, token, token, json.loads(mint.args)["custodian"], store)
        cursor = s.get(IndexCursor, chain_id)
        assert cursor is not None
        cursor.next_block = ancestor + 1
        # The hash the ancestor was found with, not a fresh read: should the chain reorganise deeper
        # meanwhile, a fresh read would make the cursor match the new chain over events of the old one;
        # this way the next pass sees the difference and rewinds again.
        cursor.last_hash = ancestor_hash
    return ancestor
