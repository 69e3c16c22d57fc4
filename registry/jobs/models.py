from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class JobState(StrEnum):
    accepted = "accepted"
    running = "running"
    completed = "completed"
    failed = "failed"


class ChunkState(StrEnum):
    """One on-chain batch moves validated -> stored -> sent -> confirmed -> recorded (or failed)."""

    validated = "validated"
    stored = "stored"  # batch id reserved, metadata directory stored and pinned
    sent = "sent"  # mint transaction signed and broadcast
    confirmed = "confirmed"  # mined successfully (with the configured confirmations)
    recorded = "recorded"  # twins written to the registry
    failed = "failed"


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("brand_id", "idempotency_key"),
        Index("ix_jobs_brand_created", "brand_id", "created_at", "id"),  # the console's job list, newest first
        Index("ix_jobs_state", "state"),  # the open-jobs gauge counts the few open among all jobs
    )

    id: str = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", index=True)
    idempotency_key: str | None = None
    request_hash: str
    kind: str  # "twin" or "batch"
    state: str = JobState.accepted
    total: int
    recorded: int = 0
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # The W3C trace context of the request that submitted it (JSON; only while tracing): the worker
    # that picks the job up later continues that trace (registry/metrics/tracing.py).
    trace_context: str | None = None


class Chunk(SQLModel, table=True):
    """A job's share of one on-chain batch. Small chunks of one collection and kind that arrive close
    together are minted as one batch (coalesced): the first is its leader, which carries the batch
    through the states; the others (riders) point to it and mirror its state, batch id, directory, claim
    root and transaction. `batch_offset` is where the chunk's twins start inside the batch, so its
    i-th twin is token `token_id(batch_id, batch_offset + i)`."""

    __tablename__ = "job_chunks"
    __table_args__ = (Index("ix_job_chunks_collection_batch", "collection", "batch_id"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True)
    seq: int
    collection: str = Field(foreign_key="collections.address")
    twin_kind: int  # 0 physical, 1 virtual (one kind per on-chain batch)
    size: int  # this chunk's twins (its batch may hold more: see leader_id)
    state: str = Field(default=ChunkState.validated, index=True)
    leader_id: int | None = Field(default=None, foreign_key="job_chunks.id", index=True)  # None: leads its batch
    batch_offset: int = 0
    batch_id: int | None = Field(default=None, sa_type=BigInteger)
    dir_cid: str | None = None
    claim_root: str | None = None  # hex Merkle root over (token id, claim key) of the claimable twins
    tx_hash: str | None = None
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = None
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of validated twin inputs
    updated_at: datetime = Field(default_factory=utcnow)


class Identifier(SQLModel, table=True):
    """GTIN + serial reserved by a job: a physical item gets one twin, whatever races happen."""

    __tablename__ = "identifiers"

    gtin: str = Field(primary_key=True)
    serial: str = Field(primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True)
