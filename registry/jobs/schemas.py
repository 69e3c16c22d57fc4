"""A mint job as the brand sees it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from registry.pinning.schemas import Durability


class ClaimSecretsLink(BaseModel):
    available: bool
    url: str
    once: bool


class JobCounts(BaseModel):
    requested: int
    recorded: int


class JobBatch(BaseModel):
    """A chunk of the job and the on-chain batch it went into: small requests arriving together share
    one batch, each at its offset (its i-th twin is token batch_id * 10,000 + offset + i + 1)."""

    seq: int
    collection: str
    size: int
    state: str
    batch_id: int | None
    offset: int
    directory_cid: str | None
    tx_hash: str | None
    error: str | None


class JobTwin(BaseModel):
    contract: str
    token_id: int
    kind: str
    name: str
    gtin: str | None
    serial: str | None
    token_uri: str
    token_url: str  # through the https content gateway
    tx_hash: str


class JobOut(BaseModel):
    id: str
    kind: str
    claim_secrets: ClaimSecretsLink | None
    state: str
    error: str | None
    counts: JobCounts
    created_at: datetime
    updated_at: datetime
    batches: list[JobBatch]
    twins: list[JobTwin]
    durability: Durability | None = Field(
        default=None, description="how the twins' content is held by remote pinning services (when configured)"
    )
