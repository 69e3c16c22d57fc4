"""The job state machine's transitions, in one place: the mint worker and the indexer (when a
reorganisation orphans a recorded batch) both move jobs and chunks only through these."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.db.pairs import pairs_in
from registry.jobs.models import Chunk, ChunkState, Job, JobState
from registry.metrics import record as metrics

log = logging.getLogger(__name__)

OPEN = (ChunkState.validated, ChunkState.stored, ChunkState.sent, ChunkState.confirmed)


def mark(job: Job, state: JobState, error: str | None = None) -> None:
    if state in (JobState.completed, JobState.failed) and job.state != state:
        metrics.job_finished(state)
    job.state = state
    job.error = error
    job.updated_at = datetime.now(UTC)


def refresh_job(s: Session, job_id: str) -> None:
    """Completes or fails a job from the states of its chunks."""
    refresh_jobs(s, [job_id])


def refresh_jobs(s: Session, job_ids: Iterable[str]) -> None:
    """`refresh_job` for several jobs (the jobs of a coalesced batch) in two queries."""
    ids = sorted(set(job_ids))
    if not ids:
        return
    chunks: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for job_id, state, error in s.exec(
        select(Chunk.job_id, Chunk.state, Chunk.error).where(col(Chunk.job_id).in_(ids))
    ).all():
        chunks[job_id].append((state, error))
    for job in s.exec(select(Job).where(col(Job.id).in_(ids))).all():
        states = [state for state, _ in chunks[job.id]]
        if all(st == ChunkState.recorded for st in states):
            mark(job, JobState.completed)
        elif all(st in (ChunkState.recorded, ChunkState.failed) for st in states):
            errors = {e for st, e in chunks[job.id] if st == ChunkState.failed and e}
            mark(job, JobState.failed, "; ".join(sorted(errors)))
        else:
            job.updated_at = datetime.now(UTC)


def locked_jobs(s: Session, job_ids: Iterable[str]) -> dict[str, Job]:
    """The jobs, read afresh under their row locks, taken in id order: the worker recording a batch and
    the indexer handing batches back both count twins on jobs, and a plain read then write would lose
    the other's change (a job's chunks may sit in several batches); one order keeps them deadlock-free."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    query = select(Job).where(col(Job.id).in_(ids)).order_by(col(Job.id)).with_for_update()
    return {j.id: j for j in s.exec(query.execution_options(populate_existing=True)).all()}


def lock_batches(s: Session, batches: Iterable[tuple[str, int]]) -> None:
    """Locks the chunks of these (collection, batch id) batches, then their jobs, each in id order,
    before a reorganisation hands several back: a worker recording one of them finishes first, and no
    job row is held while a later batch's chunks are waited for (which deadlocked against a worker
    recording that batch)."""
    wanted = sorted(set(batches))
    if not wanted:
        return
    query = select(Chunk).where(pairs_in(col(Chunk.collection), col(Chunk.batch_id), wanted))
    chunks = s.exec(query.order_by(col(Chunk.id)).with_for_update().execution_options(populate_existing=True)).all()
    locked_jobs(s, {c.job_id for c in chunks})


def reopen_batch(s: Session, address: str, batch_id: int) -> None:
    """A batch the mint worker recorded was orphaned by a reorganisation: hand it back to the worker,
    which mints it again under the same batch id, with the same chunks (so it still lands exactly once).
    The chunks and then their jobs are read under their row locks, as the worker's transitions read them:
    a worker recording the batch in another process right now finishes first, and its twins and counts
    are then taken back too (a plain read would see it still confirmed and leave the job counting twins
    the chain lost)."""
    chunks = [
        c
        for c in chunks_of_batch(s, address, batch_id, lock=True)
        if c.state in (ChunkState.confirmed, ChunkState.recorded)
    ]
    jobs = locked_jobs(s, {c.job_id for c in chunks if c.state == ChunkState.recorded})
    for chunk in chunks:
        job = jobs.get(chunk.job_id)
        if chunk.state == ChunkState.recorded and job is not None:
            job.recorded -= chunk.size
            mark(job, JobState.running)
        chunk.state, chunk.tx_hash, chunk.block_number = ChunkState.stored, None, None
    if chunks:
        log.warning("reorg orphaned batch %s of %s: handed back to the mint worker", batch_id, address)


def chunks_of_batch(s: Session, address: str, batch_id: int, *, lock: bool = False) -> list[Chunk]:
    """The chunks minted as this batch (several when small requests were coalesced), in token order."""
    query = select(Chunk).where(Chunk.collection == address, Chunk.batch_id == batch_id)
    query = query.order_by(col(Chunk.batch_offset))
    if lock:  # and afresh: a row this session read before may have changed meanwhile
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(s.exec(query).all())


def job_ids_of_batch(s: Session, address: str, batch_id: int, size: int) -> list[str | None]:
    """The job of each twin of the batch, by index (None: minted by nobody this registry knows)."""
    jobs: list[str | None] = [None] * size
    for chunk in chunks_of_batch(s, address, batch_id):
        for i in range(chunk.batch_offset, min(chunk.batch_offset + chunk.size, size)):
            jobs[i] = chunk.job_id
    return jobs
