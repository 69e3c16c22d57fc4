"""Consents owners signed for brands, the brands' stated recipients, and the log of exports.

A consent row keeps the exact SIWE message and its signature (the proof: it names the brand, the
fields, the purpose and the hash of the notice shown, and holds no contact detail), and the contact
details themselves sealed under the server key, bound to the row; revocation blanks the sealed copy.
Times compared in queries are unix seconds (the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow

KINDS = ("share", "cross-border")


class ConsentProfile(SQLModel, table=True):
    """The brand's recipient of owners' details, as its notices name it (no profile: no consent asked)."""

    __tablename__ = "consent_profiles"

    brand_id: str = Field(primary_key=True, foreign_key="brands.id")
    recipient_name: str
    recipient_contact: str
    recipient_country: str  # ISO 3166-1 alpha-2; not CN: abroad for PIPL
    updated_at: datetime = Field(default_factory=utcnow)


class Consent(SQLModel, table=True):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_brand_address", "brand_id", "address"),)

    id: str = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id")
    address: str = Field(index=True)  # EIP-55: the owner who signed
    kind: str  # share | cross-border
    parent_id: str | None = Field(default=None, foreign_key="consents.id", index=True)  # cross-border: its share
    message: str = Field(sa_column=Column(Text, nullable=False))  # exactly as signed
    signature: str = Field(sa_column=Column(Text, nullable=False))  # 0x hex, as given
    signature_kind: str  # eoa | erc1271 | erc6492
    recap_json: str = Field(sa_column=Column(Text, nullable=False))  # the decoded ReCap caveat
    fields: str  # JSON list, among registry.consent.notice.FIELDS
    purpose: str
    notice_hash: str  # sha256:<hex> of the notice shown
    residence_cn: bool = False  # the owner declared residence in mainland China (signed, in the ReCap)
    recipient_country: str  # the recipient the notice named (a change of recipient ends a cross-border one)
    sealed_contact: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    granted_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
    revoked_by: str | None = None  # owner | parent (its share consent was revoked)


class ConsentExport(SQLModel, table=True):
    """Every export of owners' details: who, when, which format, how many rows."""

    __tablename__ = "consent_exports"

    id: int | None = Field(default=None, primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str  # key:<api key id> | staff:<staff id>
    format: str  # json | csv
    rows: int
