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
