"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from registry.events.public import TYPES
from registry.webhooks.outbox import BRAND_TYPES


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(max_length=2000)
    event_types: list[str] = Field(
        min_length=1, description=f"among {', '.join(TYPES)}; a brand's also {', '.join(BRAND_TYPES)}"
    )
    collection: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    token_id: int | None = Field(default=None, gt=0, le=2**63 - 1)
    owner: str | None = Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="only events moving a twin from or to this address (sender or recipient): ownership notices",
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    collection: str | None
    token_id: int | None
    owner: str | None
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret, shown only in this answer")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class AttemptOut(BaseModel):
    at: datetime
    status: int | None
    error: str | None
    ms: int


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    state: str
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryLog(BaseModel):
    webhook: str
    deliveries: list[DeliveryOut]


class RedeliveryOut(BaseModel):
    id: int
    event_id: str
    state: str
