"""NFC tables: a brand's sealed NTAG 424 master key, the tags bound to twins, HaLo challenges.

Per-tag AES keys are not stored: they are re-derived from the master key (AN10922) when needed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class NfcMasterKey(SQLModel, table=True):
    __tablename__ = "nfc_master_keys"

    brand_id: str = Field(primary_key=True, foreign_key="brands.id")
    sealed_key: str  # AES-128 master key, sealed (AES-256-GCM) under the server key, bound to the brand
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class NfcTag(SQLModel, table=True):
    """A tag or chip bound to one twin. `identity` is the NTAG's UID (upper-case hex) or the HaLo
    chip's address (checksummed): unique per brand and kind, so a tag serves one twin of its brand;
    scoped to the brand so that another brand enrolling a UID or an address it has seen (both are
    public after one tap) cannot take it from the brand that owns the tag."""

    __tablename__ = "nfc_tags"
    __table_args__ = (
        UniqueConstraint("brand_id", "kind", "identity", name="uq_nfc_tags_brand_kind_identity"),
        Index("ix_nfc_tags_twin", "collection", "token_id"),
        Index("ix_nfc_tags_brand_created", "brand_id", "created_at", "id"),  # the console's tag list
    )

    id: str = Field(primary_key=True)
    kind: str  # "ntag424" or "halo"
    identity: str
    public_key: str | None = None  # halo: the enrolled key (uncompressed hex), when given
    brand_id: str = Field(foreign_key="brands.id", index=True)
    collection: str
    token_id: int = Field(sa_type=BigInteger)
    # Highest counter accepted so far; a tap is fresh only above it (raised by a conditional UPDATE).
    last_counter: int = Field(default=-1, sa_type=BigInteger)
    last_tap_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class NfcChallenge(SQLModel, table=True):
    """A nonce for a HaLo chip to sign: bound to one twin, short-lived, answered once. The nonce is
    no secret (only the chip's key can answer it), so it is kept as issued."""

    __tablename__ = "nfc_challenges"

    id: str = Field(primary_key=True)
    collection: str
    token_id: int = Field(sa_type=BigInteger)
    nonce: str
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
