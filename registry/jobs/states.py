"""The job state machine's transitions, in one place: the mint worker and the indexer (when a
reorganisation orphans a recorded batch) both move jobs and chunks only through these."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlmodel import Session, select

from registry.jobs.models import Chunk, ChunkState, Job, JobState

log = logging.getLogger(__name__)

OPEN = (ChunkState.validated, ChunkState.stored, ChunkState.sent, ChunkState.confirmed)


def mark(job: Job, state: JobState, error: str | None = None) -> None:
    job.state = state
    job.error = error
    job.updated_at = datetime.now(UTC)


def refresh_job(s: Session, job_id: str) -> None:
    """Completes or fails a job from the states of its chunks."""
    job = s.get(Job, job_id)
    assert job is not None
    states = s.exec(select(Chunk.state).where(Chunk.job_id == job_id)).all()
    if all(st == ChunkState.recorded for st in states):
        mark(job, JobState.completed)
    elif all(st in (ChunkState.recorded, ChunkState.failed) for st in states):
        errors = s.exec(select(Chunk.error).where(Chunk.job_id == job_id, Chunk.state == ChunkState.failed)).all()
        mark(job, JobState.failed, "; ".join(sorted({e for e in errors if e})))
    else:
        job.updated_at = datetime.now(UTC)


def reopen_chunk(s: Session, address: str, batch_id: int) -> None:
    """A batch the mint worker recorded was orphaned by a reorganisation: hand it back to the worker,
    which mints it again under the same batch id (so it still lands exactly once)."""
    chunk = s.exec(select(Chunk).where(Chunk.collection == address, Chunk.batch_id == batch_id)).first()
    if chunk is None or chunk.state not in (ChunkState.confirmed, ChunkState.recorded):
        return
    job = s.get(Job, chunk.job_id)
    if chunk.state == ChunkState.recorded and job is not None:
        job.recorded -= chunk.size
        mark(job, JobState.running)
    chunk.state, chunk.tx_hash, chunk.block_number = ChunkState.stored, None, None
    log.warning("reorg orphaned batch %s of %s: handed back to the mint worker", batch_id, address)


def chunk_of_batch(s: Session, address: str, batch_id: int) -> Chunk | None:
    return s.exec(select(Chunk).where(Chunk.collection == address, Chunk.batch_id == batch_id)).first()
