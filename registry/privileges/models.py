"""Owners' privileges: what a brand offers the owners of its twins, the discount codes it hands out,
each twin's redemption (with the receipt a venue checks) and the uses venues report.

Times compared in queries are unix seconds (the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow

KINDS = ("redeem_once", "ongoing", "code")


class Privilege(SQLModel, table=True):
    """A brand's privilege: names and descriptions in English and Chinese, who qualifies (`rules`,
    `registry.privileges.rules.Rules` as JSON), when it runs and how many redemptions it allows."""

    __tablename__ = "privileges"
    __table_args__ = (Index("ix_privileges_brand_retired", "brand_id", "retired_at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: str = Field(foreign_key="brands.id")
    kind: str  # KINDS
    name_en: str
    name_zh: str
    description_en: str = Field(sa_column=Column(Text, nullable=False))
    description_zh: str = Field(sa_column=Column(Text, nullable=False))
    rules: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    starts_at: int | None = Field(default=None, sa_type=BigInteger)
    ends_at: int | None = Field(default=None, sa_type=BigInteger)
    capacity: int | None = Field(default=None, sa_type=BigInteger)  # None: no limit
    retired_at: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PrivilegeCode(SQLModel, table=True):
    """A discount code a brand uploaded, sealed under the server key; handed out once, to one redemption."""

    __tablename__ = "privilege_codes"
    __table_args__ = (
        UniqueConstraint("privilege_id", "code_hash"),
        Index("ix_privilege_codes_free", "privilege_id", "redemption_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    privilege_id: int = Field(foreign_key="privileges.id")
    code_hash: str  # HMAC-SHA256 under the server key: finds a repeated upload without storing the code
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    redemption_id: int | None = Field(default=None, sa_type=BigInteger)  # None: not handed out yet


class Redemption(SQLModel, table=True):
    """One twin's redemption of one privilege. The unique key is the twin, not the owner: passing the
    item between one's own accounts does not redeem it twice."""

    __tablename__ = "privilege_redemptions"
    __table_args__ = (
        UniqueConstraint("privilege_id", "collection", "token_id"),
        Index("ix_privilege_redemptions_brand_id", "brand_id", "id"),
        Index("ix_privilege_redemptions_twin", "collection", "token_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    privilege_id: int = Field(foreign_key="privileges.id")
    brand_id: str = Field(foreign_key="brands.id")
    collection: str
    token_id: int = Field(sa_type=BigInteger)
    owner: str  # the twin's owner (the receipt's `owner`), EIP-55
    actor: str  # who signed in to redeem: the owner, or a delegate of the owner's (delegate.xyz)
    nonce: str = Field(unique=True)  # the receipt's nonce, 0x + 64 hex
    issued_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)
    receipt: str = Field(sa_column=Column(Text, nullable=False))  # the signed receipt as the QR carries it
    code_id: int | None = Field(default=None, sa_type=BigInteger)
    used_at: int | None = Field(default=None, sa_type=BigInteger)  # first use a venue reported
    used_venue: str | None = None
    double_uses: int = 0  # later uses reported (two venues offline both accepting it)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
    revoked_reason: str | None = None  # "moved" (the twin changed hands before use) or "brand"


class ReceiptUse(SQLModel, table=True):
    """A use of a receipt a venue reported (online at once, or later from its offline journal)."""

    __tablename__ = "privilege_receipt_uses"
    __table_args__ = (UniqueConstraint("redemption_id", "venue", "used_at"),)

    id: int | None = Field(default=None, primary_key=True)
    redemption_id: int = Field(foreign_key="privilege_redemptions.id", index=True)
    venue: str
    used_at: int = Field(sa_type=BigInteger)  # when the venue accepted it (its clock)
    reported_at: int = Field(sa_type=BigInteger)
    first: bool  # the use the server recorded as the redemption's; the others are double uses
