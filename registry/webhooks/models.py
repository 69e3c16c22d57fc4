from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class Subscription(SQLModel, table=True):
    __tablename__ = "webhook_subscriptions"

    id: str = Field(primary_key=True)
    brand_id: str | None = Field(default=None, foreign_key="brands.id", index=True)
    partner_id: str | None = Field(default=None, foreign_key="partners.id", index=True)
    url: str
    event_types: str  # JSON list
    collection: str | None = None
    token_id: int | None = Field(default=None, sa_type=BigInteger)
    owner: str | None = None  # events moving a twin from or to this address only (checksummed)
    # The HMAC key must be usable to sign every delivery, so it is stored (shown to the subscriber once).
    secret: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """The outbox: written in the same transaction as the indexed event it announces."""

    __tablename__ = "webhook_deliveries"
    # A subscription's delivery log, newest first (the console pages it by creation time: ordered by id,
    # PostgreSQL walked the primary key backwards through every other subscription's deliveries).
    __table_args__ = (Index("ix_webhook_deliveries_sub_created", "subscription_id", "created_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(foreign_key="webhook_subscriptions.id", index=True)
    event_id: str  # stable across retries and redeliveries, so receivers can drop duplicates
    event_type: str
    payload: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="pending", index=True)  # pending, delivered, dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_deliveries.id", index=True)
    attempted_at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str | None = None
    duration_ms: int
