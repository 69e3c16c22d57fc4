"""Indexed chain events: the registry's copy of every log of the registry and brand collections."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class ChainEvent(SQLModel, table=True):
    """One log of the registry or a brand collection, recorded once."""

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("block_hash", "tx_hash", "log_index"),
        # A twin's history (provenance, verification) is one range scan of this index.
        Index("ix_chain_events_address_token", "address", "token_id", "block_number", "log_index"),
        # A partner's event stream filtered by contract, resumed from an old id.
        Index("ix_chain_events_address_id", "address", "id"),
        # A player's ownership notices (stream filtered by owner): two index ranges, one per side.
        Index("ix_chain_events_sender_id", "sender", "id"),
        Index("ix_chain_events_recipient_id", "recipient", "id"),
        # A brand's claims and resales by day (`registry.scans.service`): its collections' events of one
        # name in a time range, and the custodians' BatchMinted of a collection.
        Index("ix_chain_events_address_name_time", "address", "name", "block_time"),
    )

    id: int | None = Field(default=None, primary_key=True)
    block_number: int = Field(sa_type=BigInteger, index=True)
    block_hash: str
    tx_hash: str
    log_index: int
    address: str = Field(index=True)
    name: str
    token_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    args: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    block_time: int | None = Field(default=None, sa_type=BigInteger)  # unix seconds; None: recorded before 0005
    built: bool = False  # BatchMinted only: its twins were built from the batch directory
    # Who an ownership event moves a twin from / to (`registry.events.public.parties`); None otherwise.
    sender: str | None = None
    recipient: str | None = None


class OwnerDay(SQLModel, table=True):
    """Claims and resales of one collection on one UTC day, as `registry.events.owner_days` counts them
    from the indexed events (kept by the indexer in the transaction that stores or drops events)."""

    __tablename__ = "owner_days"
    __table_args__ = (UniqueConstraint("collection", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    collection: str
    day: date
    claims: int = Field(default=0, sa_type=BigInteger)
    resales: int = Field(default=0, sa_type=BigInteger)
