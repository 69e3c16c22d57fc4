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


class OwnerAttestation(SQLModel, table=True):
    """The brand's opaque reference to its own real-name check of an owner (issue 26): a compliant
    deployment binds buyers to real names in the brand's systems; Twinmark keeps only the pointer."""

    __tablename__ = "owner_attestations"

    brand_id: str = Field(foreign_key="brands.id", primary_key=True)
    owner: str = Field(primary_key=True)  # checksummed address
    reference: str
    updated_at: datetime = Field(default_factory=utcnow)
