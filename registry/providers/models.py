"""Service providers (repairers, authenticators) a brand authorised on chain."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class Provider(SQLModel, table=True):
    """A service provider (repairer, authenticator) a brand authorised on chain.

    Its signing key is kept only sealed under its own API key (which the service stores hashed), so
    the service can sign for the provider only while the provider is calling.
    """

    __tablename__ = "providers"

    id: str = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", index=True)
    name: str
    address: str
    sealed_key: str
    created_at: datetime = Field(default_factory=utcnow)
