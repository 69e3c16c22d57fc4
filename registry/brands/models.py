"""A brand (issuer) and its collections, mirrored from the registry contract."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class Brand(SQLModel, table=True):
    __tablename__ = "brands"

    id: str = Field(primary_key=True)
    name: str
    chain_brand_id: int = Field(index=True, unique=True, sa_type=BigInteger)
    admin_address: str
    created_at: datetime = Field(default_factory=utcnow)


class Collection(SQLModel, table=True):
    __tablename__ = "collections"

    address: str = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", index=True)
    name: str
    symbol: str
    next_batch_id: int = Field(
        default=1, sa_type=BigInteger
    )  # next on-chain batch id this service will use (mirrors the contract)
    # Set at creation, never cleared: a no-secondary-market collection accepts no price fields.
    no_prices: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
