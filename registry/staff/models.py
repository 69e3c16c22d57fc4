"""Staff of a brand and what the console needs to let them in: invites, passkeys, single-use WebAuthn
challenges, sessions (only hashes of secrets are stored), and the audit log.

Personal data kept: a display name the inviter chose (no e-mail address), the truncated network and a
user-agent class of each session and audit entry (no full address, no user agent)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class StaffRole(StrEnum):
    """What a member of staff may do; each role includes the ones below it."""

    admin = "admin"  # staff, API keys, compromise reports, and everything an operator does
    operator = "operator"  # minting, labels, NFC tags, webhooks, alerts
    analyst = "analyst"  # read-only


RANK = {StaffRole.analyst: 0, StaffRole.operator: 1, StaffRole.admin: 2}


class StaffMember(SQLModel, table=True):
    __tablename__ = "staff"

    id: str = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", index=True)
    name: str  # a display name chosen by whoever invited them
    role: str  # a StaffRole
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = None  # a staff id, "operator", or "key:<prefix>" (a brand's API key)
    disabled_at: datetime | None = None
    # The brand's admin wallet (lower case), when this admin linked it to sign in with Ethereum too.
    wallet: str | None = Field(default=None, index=True)


class StaffInvite(SQLModel, table=True):
    """A single-use link that lets its holder register a passkey as a new member of staff."""

    __tablename__ = "staff_invites"

    id: str = Field(primary_key=True)  # public part of the link
    brand_id: str = Field(foreign_key="brands.id", index=True)
    name: str
    role: str
    token_hash: str  # SHA-256 of the link's secret part
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = None
    expires_at: datetime
    used_at: datetime | None = None
    staff_id: str | None = None  # who it became


class StaffPasskey(SQLModel, table=True):
    __tablename__ = "staff_passkeys"

    id: str = Field(primary_key=True)  # the credential id, base64url
    staff_id: str = Field(foreign_key="staff.id", index=True)
    public_key: str  # COSE public key, base64url
    sign_count: int = Field(default=0, sa_type=BigInteger)
    transports: str | None = None  # comma-separated, as the browser reported them
    aaguid: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None


class StaffChallenge(SQLModel, table=True):
    """A WebAuthn challenge, usable once and briefly (stored, not in a cookie: any process can check it,
    and a replayed ceremony finds it used)."""

    __tablename__ = "staff_challenges"

    id: str = Field(primary_key=True)
    challenge: str  # base64url
    purpose: str  # "register" or "sign-in"
    invite_id: str | None = None
    staff_id: str | None = None
    expires_at: datetime
    used_at: datetime | None = None


class StaffSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random secret; this row holds only its SHA-256."""

    __tablename__ = "staff_sessions"

    id: str = Field(primary_key=True)  # SHA-256 (hex) of the cookie's secret
    staff_id: str = Field(foreign_key="staff.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime  # absolute timeout, whatever the activity
    revoked_at: datetime | None = None
    network: str | None = None  # truncated (IPv4 /24, IPv6 /48)
    agent: str | None = None  # user-agent class


class AuditEntry(SQLModel, table=True):
    """One staff action (or refusal), for the brand's admins to read."""

    __tablename__ = "staff_audit"
    __table_args__ = (
        Index("ix_staff_audit_brand_at", "brand_id", "at"),
        Index("ix_staff_audit_brand_id", "brand_id", "id"),  # the audit page: a brand's entries by id
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    at: datetime = Field(default_factory=utcnow)
    brand_id: str = Field(foreign_key="brands.id")
    staff_id: str | None = None  # None: the operator or an API key (`actor` says which)
    actor: str  # the staff member's name at the time, "operator", or "key:<prefix>"
    action: str  # e.g. "staff.invite", "key.revoke", "alert.resolve", "session.sign-in"
    target: str | None = None
    outcome: str  # "ok", "refused" (role or CSRF), "failed" (the action raised)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    network: str | None = None
