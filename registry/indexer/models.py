from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.brands.models import utcnow


class ChainEvent(SQLModel, table=True):
    """One log of the registry or a brand collection, recorded once."""

    __tablename__ = "chain_events"
    __table_args__ = (UniqueConstraint("block_hash", "tx_hash", "log_index"),)

    id: int | None = Field(default=None, primary_key=True)
    block_number: int = Field(sa_type=BigInteger, index=True)
    block_hash: str
    tx_hash: str
    log_index: int
    address: str = Field(index=True)
    name: str
    token_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    args: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    built: bool = False  # BatchMinted only: its twins were built from the batch directory


class IndexCursor(SQLModel, table=True):
    """Where the indexer is: blocks before `next_block` are indexed; `last_hash` is the hash of the one before."""

    __tablename__ = "index_cursors"

    chain_id: int = Field(primary_key=True, sa_type=BigInteger)
    next_block: int = Field(default=0, sa_type=BigInteger)
    last_hash: str | None = None
    range_size: int = 2000
    updated_at: datetime = Field(default_factory=utcnow)
