"""The verification answer: the verdict and every check with its result."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from registry.alerts.schemas import CautionOut


class CheckOut(BaseModel):
    name: str = Field(description="genuine_collection, token_exists, issuer_standing, metadata_integrity, ...")
    ok: bool
    detail: str


class ChainBrand(BaseModel):
    id: int
    admin: str
    registered_at: int
    suspended: bool
    name: str


class ServiceRecordRef(BaseModel):
    provider: str
    record_cid: str
    block_time: str
    tx_hash: str


class VerifiedTwin(BaseModel):
    name: str | None
    kind: str
    owner: str
    status: str
    claimed: bool
    unclaimed: bool
    owner_since: str | None
    owners: int
    last_service_record: ServiceRecordRef | None
    batch_id: int
    minted_at: str
    token_uri: str
    token_url: str | None = None  # through the https gateway the verifier read from
    content_urls: dict[str, str] = {}
    metadata_cid: str | None
    brand: ChainBrand
    metadata: dict[str, Any] | None


class VerificationOut(BaseModel):
    contract: str
    token_id: int
    as_of_block: int = Field(description="the chain head the answer was computed at")
    twin: VerifiedTwin | None = None
    authentic: bool
    checks: list[CheckOut]
    caution: CautionOut | None = Field(
        default=None,
        description="present while an alert on the twin's scans is open (what was seen, in English and"
        " Chinese); it never changes `authentic`: a genuine item's label can be copied. Its brand clears it",
    )
