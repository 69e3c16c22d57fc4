from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class Twin(SQLModel, table=True):
    """The registry's index entry for a minted twin; chain and IPFS stay the truth."""

    __tablename__ = "twins"
    __table_args__ = (
        Index("ix_twins_gtin_serial", "gtin", "serial"),
        # A player's wearables: one range per owner, in the listing's page order (`registry.wardrobe`).
        Index("ix_twins_owner_collection_token", "owner", "collection", "token_id"),
    )

    collection: str = Field(primary_key=True)
    token_id: int = Field(primary_key=True, sa_type=BigInteger)
    brand_id: str | None = Field(default=None, foreign_key="brands.id", index=True)  # None: a brand not served here
    job_id: str | None = Field(default=None, foreign_key="jobs.id", index=True)  # None: indexed from the chain
    batch_id: int = Field(sa_type=BigInteger)
    kind: str  # "physical" or "virtual"
    name: str
    gtin: str | None = None
    serial: str | None = None
    claim_key: str | None = None  # address committed on chain for a claimable twin (never the secret)
    metadata_cid: str  # the token's metadata file
    dir_cid: str  # the batch directory anchored on chain
    token_uri: str
    tx_hash: str
    block_number: int = Field(sa_type=BigInteger)
    minted_at: datetime = Field(default_factory=utcnow)
    metadata_json: str = Field(sa_column=Column(Text, nullable=False))
    # Kept by the indexer from chain events:
    owner: str | None = None
    status: int = 0
    claimed: bool = False
    burned: bool = False
    # Unix seconds of the block that gave the twin to its current owner (None: still with the batch's
    # custodian) and of its last `ServiceRecorded`: owners' privileges gate on them (`registry.privileges`).
    owner_since: int | None = Field(default=None, sa_type=BigInteger)
    last_serviced_at: int | None = Field(default=None, sa_type=BigInteger)


class TwinTag(SQLModel, table=True):
    """A virtual twin's wearable tag (lower case), copied from its metadata where twin rows are written,
    so a privilege gated on a tag finds its twins by index instead of parsing every document."""

    __tablename__ = "twin_tags"
    __table_args__ = (Index("ix_twin_tags_tag", "tag", "collection", "token_id"),)

    collection: str = Field(primary_key=True)
    token_id: int = Field(primary_key=True, sa_type=BigInteger)
    tag: str = Field(primary_key=True, max_length=50)
