"""The batch ledger: which chunks make up a batch, which batch id each collection hands out next, and
how a batch reserves an id and gives it back. The mint worker's queries live here (it only loads a
chunk by id itself); every function works in the caller's session (the worker decides the
transactions), none talks to the chain.

A collection's `next_batch_id` mirrors the contract's counter. Only the worker holding the
collection's claim (`registry.jobs.claims`, checked by the worker at the start of each transaction)
moves it, every change locks the chunk rows it changes and the counter row, and
the contract mints batch N only when N is the next id, so the ledger keeps two promises: a reserved
id is held by exactly one live batch, and the batches waiting to be sent hold consecutive ids from
the chain's next one (an id given back is the next one taken).
"""

from __future__ import annotations

from collections.abc import Collection as Addresses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.jobs.coalescing import Waiting
from registry.jobs.models import Chunk, ChunkState, Job, JobState
from registry.jobs.states import OPEN

LIVE = (ChunkState.stored, ChunkState.sent)  # a batch id reserved and not yet minted


# ---------------------------------------------------------------- reading


def _among(query: Any, collections: Addresses[str] | None) -> Any:
    """The query restricted to `collections` (None: every collection)."""
    return query if collections is None else query.where(col(Chunk.collection).in_(list(collections)))


def waiting(s: Session, limit: int, collections: Addresses[str] | None = None) -> list[Waiting]:
    """The chunks not yet sent that lead (or will lead) a batch, oldest first, at most `limit`, of
    `collections` (None: of all)."""
    # sqlalchemy's select: sqlmodel's is typed for at most four columns. The payload stays unread.
    query = (
        sa_select(
            col(Chunk.id),
            col(Chunk.collection),
            col(Chunk.twin_kind),
            col(Chunk.size),
            col(Chunk.state),
            col(Job.created_at),
        )
        .join(Job, col(Job.id) == col(Chunk.job_id))
        .where(col(Chunk.state).in_([ChunkState.validated, ChunkState.stored]), col(Chunk.leader_id).is_(None))
        .order_by(col(Chunk.id))
        .limit(limit)
    )
    rows = s.execute(_among(query, collections)).all()
    return [
        Waiting(id=i, collection=c, kind=k, size=n, state=st, since=t if t.tzinfo else t.replace(tzinfo=UTC))
        for i, c, k, n, st, t in rows
        if i is not None
    ]


def in_flight(s: Session, collections: Addresses[str] | None = None) -> int:
    """Batches broadcast and not yet confirmed (of `collections`; None: of all)."""
    query = select(func.count()).where(Chunk.state == ChunkState.sent, col(Chunk.leader_id).is_(None))
    return int(s.exec(_among(query, collections)).one())


def unfinished(s: Session) -> int:
    """Chunks neither recorded nor failed."""
    return s.exec(select(func.count()).where(col(Chunk.state).in_(OPEN))).one()


def leaders(s: Session, state: ChunkState, collections: Addresses[str] | None = None) -> list[Chunk]:
    """The leaders of the batches in `state` (of `collections`; None: of all), oldest first."""
    query = select(Chunk).where(Chunk.state == state, col(Chunk.leader_id).is_(None)).order_by(col(Chunk.id))
    return list(s.exec(_among(query, collections)).all())


def chunk(s: Session, chunk_id: int | None, *, lock: bool = False) -> Chunk | None:
    """A chunk by id; `lock`: its row locked until the transaction ends (PostgreSQL), read afresh."""
    if not lock:
        return s.get(Chunk, chunk_id)
    query = select(Chunk).where(Chunk.id == chunk_id).with_for_update()
    return s.exec(query.execution_options(populate_existing=True)).first()


def members(s: Session, leader: Chunk, *, lock: bool = False) -> list[Chunk]:
    """The chunks of the leader's batch, in token order (the leader first); `lock`: the riders' rows
    locked (the caller locked the leader's)."""
    query = select(Chunk).where(Chunk.leader_id == leader.id).order_by(col(Chunk.batch_offset))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return [leader, *s.exec(query).all()]


def candidates(s: Session, chunk_id: int, riders: Sequence[int], *, lock: bool = False) -> list[Chunk]:
    """The leader (still waiting) and those of `riders` that can still join it, in order; empty when
    the leader itself has moved on. `lock`: their rows locked until the transaction ends."""
    leader = chunk(s, chunk_id, lock=lock)
    if leader is None or leader.state != ChunkState.validated:
        return []
    found = [leader]
    if riders:
        query = (
            select(Chunk)
            .where(
                col(Chunk.id).in_(riders),
                Chunk.state == ChunkState.validated,
                Chunk.collection == leader.collection,
                Chunk.twin_kind == leader.twin_kind,
            )
            .order_by(col(Chunk.id))
        )
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        found += s.exec(query).all()
    return found


def next_batch_id(s: Session, address: str) -> int:
    """The id the collection's next reservation takes (read without a lock: see `reserve`)."""
    collection = s.get(Collection, address)
    assert collection is not None
    return collection.next_batch_id


def held(s: Session, leader: Chunk, batch_id: int) -> bool:
    """Whether another live batch of the collection holds `batch_id` (this one is just queued)."""
    holder = s.exec(
        select(Chunk.id).where(
            Chunk.collection == leader.collection,
            Chunk.batch_id == batch_id,
            func.coalesce(Chunk.leader_id, Chunk.id) != leader.id,
            col(Chunk.state).in_(LIVE),
        )
    ).first()
    return holder is not None


# ---------------------------------------------------------------- writing


def assign(batch: Sequence[Chunk], **fields: Any) -> None:
    """A change of the batch, made to each of its chunks."""
    now = datetime.now(UTC)
    for m in batch:
        for k, v in fields.items():
            setattr(m, k, v)
        m.updated_at = now


def unform(batch: Sequence[Chunk]) -> None:
    """Back to waiting chunks: the batch id is not theirs (the directory names it), and they are
    grouped again at the next dispatch."""
    assign(
        batch,
        state=ChunkState.validated,
        batch_id=None,
        dir_cid=None,
        claim_root=None,
        tx_hash=None,
        leader_id=None,
        batch_offset=0,
    )


def _counter(s: Session, address: str) -> Collection:
    """The collection row, locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    return s.exec(select(Collection).where(Collection.address == address).with_for_update()).one()


def reserve(
    s: Session,
    chunk_id: int,
    riders: Sequence[int],
    planned: Sequence[int | None],
    batch_id: int,
    *,
    dir_cid: str,
    claim_root: str | None,
) -> bool:
    """Forms the batch the caller planned (the chunk leads, `riders` follow at their offsets) under
    `batch_id`, with its stored directory and claim root, and moves the collection's counter on.
    False, and nothing written, when the plan went stale: a member moved on or the counter moved.
    The counter is locked first, then the chunks (read afresh under their locks), so two reservations
    of one collection cannot both see the plan fresh."""
    first = s.get(Chunk, chunk_id)
    if first is None:
        return False
    collection = _counter(s, first.collection)  # a chunk's collection never changes: read unlocked
    if collection.next_batch_id != batch_id:
        return False
    batch = candidates(s, chunk_id, riders, lock=True)
    if not batch or [m.id for m in batch] != list(planned):
        return False
    leader = batch[0]
    offset = 0
    for m in batch:
        m.leader_id, m.batch_offset = (None if m is leader else leader.id), offset
        offset += m.size
    assign(batch, batch_id=batch_id, dir_cid=dir_cid, claim_root=claim_root, state=ChunkState.stored)
    collection.next_batch_id = batch_id + 1
    s.execute(
        update(Job)
        .where(col(Job.id).in_({m.job_id for m in batch}), col(Job.state) == JobState.accepted)
        .values(state=JobState.running, updated_at=datetime.now(UTC))
    )
    return True


def release(s: Session, batch: Sequence[Chunk]) -> None:
    """Gives back the batch id a batch reserved but will never mint. Later reservations of the
    collection not yet broadcast take fresh ids; the counter moves back to the freed id unless a
    later mint is in flight (that one reverts with UnexpectedBatchId and is re-homed then)."""
    leader = batch[0]
    if leader.batch_id is None:
        return
    freed = leader.batch_id
    collection = _counter(s, leader.collection)
    later = s.exec(
        select(Chunk)
        .where(
            Chunk.collection == leader.collection,
            col(Chunk.batch_id) > freed,
            col(Chunk.state).in_(LIVE),
        )
        .with_for_update()
    ).all()
    unform([other for other in later if other.state == ChunkState.stored])
    if not any(other.state == ChunkState.sent for other in later):
        collection.next_batch_id = freed
    assign(batch, batch_id=None, dir_cid=None, claim_root=None, leader_id=None, batch_offset=0)


def overtaken(s: Session, batch: Sequence[Chunk], on_chain_next: int) -> None:
    """Someone else minted the batch's id: it waits for a fresh one, past every id the chain has used."""
    collection = _counter(s, batch[0].collection)
    collection.next_batch_id = max(collection.next_batch_id, on_chain_next)
    unform(batch)


def fill_gap(s: Session, batch: Sequence[Chunk], on_chain_next: int) -> None:
    """The id the chain expects was given back (its mint failed) and no live batch holds it: this batch
    gives up its own id and the counter goes back to the gap, so the next reservation fills it."""
    collection = _counter(s, batch[0].collection)
    unform(batch)
    collection.next_batch_id = min(collection.next_batch_id, on_chain_next)
