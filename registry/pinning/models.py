"""What must be held by remote pinning services, and how each provider holds it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class PinState(StrEnum):
    """`pending`: not yet accepted by the provider (or to be requested again); the others are the
    Pinning Service API's own statuses, as the provider last reported them."""

    pending = "pending"
    queued = "queued"
    pinning = "pinning"
    pinned = "pinned"
    failed = "failed"


class PinContent(SQLModel, table=True):
    """A root CID the minted twins need (a batch directory, an asset), pinned recursively."""

    __tablename__ = "pin_contents"
    __table_args__ = (Index("ix_pin_contents_created_at", "created_at"),)  # the pinner's look at new ones

    cid: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class PinJobContent(SQLModel, table=True):
    """Which contents a mint job's twins need: its durability in the job's answer."""

    __tablename__ = "pin_job_contents"

    job_id: str = Field(primary_key=True, foreign_key="jobs.id")
    cid: str = Field(primary_key=True)


class Pin(SQLModel, table=True):
    """One content on one provider. `next_at` is when the pinner looks at it again: a request to make
    or retry, a status to poll, a pinned one to reconcile."""

    __tablename__ = "pins"
    __table_args__ = (Index("ix_pins_next_at", "next_at"),)

    cid: str = Field(primary_key=True)
    provider: str = Field(primary_key=True)
    state: str = PinState.pending
    request_id: str | None = None
    attempts: int = 0  # failures in a row (backoff); 0 after any answer that made sense
    error: str | None = None  # the last failure's class (`timeout`, `refused`, `http-503`, ...), never its text
    next_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
