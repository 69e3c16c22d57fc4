"""Durability as answers show it (the mint job's and the twin's `durability`), and the Pinning
Service API's own objects as the client reads them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["queued", "pinning", "pinned", "failed"]


class ProviderPins(BaseModel):
    name: str
    state: str = Field(
        description="pinned when every content is pinned there; else the least advanced state among them"
        " (pending: not yet accepted, queued, pinning, failed)"
    )
    pinned: int = Field(description="contents pinned on this provider")
    total: int = Field(description="contents the twins need")
    error: str | None = Field(default=None, description="the last failure's class (timeout, refused, http-503, ...)")


class Durability(BaseModel):
    """Whether the content is held by enough remote pinning services (absent when none is configured)."""

    durable: bool = Field(description="pinned in full on at least `required` providers")
    required: int
    pinned_on: int = Field(description="providers holding every content")
    providers: list[ProviderPins]


# ---------------------------------------------------------------- the Pinning Service API (v1.0.0)


class PinObject(BaseModel):
    cid: str
    name: str | None = None


class PinStatus(BaseModel):
    requestid: str = Field(min_length=1, max_length=512)
    status: Status
    created: str
    pin: PinObject
    delegates: list[str] = Field(default_factory=list)


class PinResults(BaseModel):
    count: int = Field(ge=0)
    results: list[PinStatus] = Field(max_length=1000)
