from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Brand(SQLModel, table=True):
    __tablename__ = "brands"

    id: str = Field(primary_key=True)
    name: str
    chain_brand_id: int = Field(index=True, unique=True, sa_type=BigInteger)
    admin_address: str
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """An API key, stored as the SHA-256 of its secret part; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True)  # the public prefix of the key
    brand_id: str = Field(foreign_key="brands.id", index=True)
    provider_id: str | None = Field(default=None, foreign_key="providers.id")  # set: a service provider's key
    key_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Collection(SQLModel, table=True):
    __tablename__ = "collections"

    address: str = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", index=True)
    name: str
    symbol: str
    next_batch_id: int = Field(
        default=1, sa_type=BigInteger
    )  # next on-chain batch id this service will use (mirrors the contract)
    created_at: datetime = Field(default_factory=utcnow)


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
