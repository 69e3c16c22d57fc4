"""Credentials: API keys of brands and their service providers, and partner accounts.

Only SHA-256 hashes of key secrets are stored; the keys themselves are shown to their holder once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class ApiKey(SQLModel, table=True):
    """An API key, stored as the SHA-256 of its secret part; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True)  # the public prefix of the key
    brand_id: str = Field(foreign_key="brands.id", index=True)
    provider_id: str | None = Field(default=None, foreign_key="providers.id")  # set: a service provider's key
    key_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Partner(SQLModel, table=True):
    """A resale partner or game platform: reads events of every collection; key stored as SHA-256."""

    __tablename__ = "partners"

    id: str = Field(primary_key=True)  # the key's public prefix
    name: str
    key_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None  # set: its key fails, and so do its players' sessions
