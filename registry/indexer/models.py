from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class IndexCursor(SQLModel, table=True):
    """Where the indexer is: blocks before `next_block` are indexed; `last_hash` is the hash of the one before."""

    __tablename__ = "index_cursors"

    chain_id: int = Field(primary_key=True, sa_type=BigInteger)
    next_block: int = Field(default=0, sa_type=BigInteger)
    last_hash: str | None = None
    range_size: int = 2000
    updated_at: datetime = Field(default_factory=utcnow)
