"""Sign-In with Ethereum state: nonces (single use, short-lived) and player sessions.

Neither a nonce nor a session token is stored in clear: rows are keyed by their SHA-256, so the
table alone lets no one sign in or replay. Times that are compared are unix seconds (the same on
SQLite and PostgreSQL, no time-zone conversion on the way).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow

PURPOSE_SIGN_IN = "sign-in"
PURPOSE_CONSENT = "consent"


class SiweNonce(SQLModel, table=True):
    """A nonce handed out for one sign-in; consumed by the first verification that passes."""

    __tablename__ = "siwe_nonces"

    nonce_hash: str = Field(primary_key=True)  # SHA-256 hex of the nonce
    # The partner whose API key asked for it (None: asked anonymously); only the same caller may use it.
    partner_id: str | None = Field(default=None, foreign_key="partners.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: int = Field(sa_type=BigInteger, index=True)
    used_at: int | None = Field(default=None, sa_type=BigInteger)
    # What the signed message may be: "sign-in" (a session) or "consent" (registry.consent). Each
    # spender accepts only its own, so one signature can never serve as the other.
    purpose: str = Field(default=PURPOSE_SIGN_IN, sa_column_kwargs={"server_default": PURPOSE_SIGN_IN})


class SiweSession(SQLModel, table=True):
    """A signed-in player: an address (and the partner whose game asked), until `expires_at`."""

    __tablename__ = "siwe_sessions"

    token_hash: str = Field(primary_key=True)  # SHA-256 hex of the bearer token (shown once)
    address: str = Field(index=True)  # EIP-55
    chain_id: int = Field(sa_type=BigInteger)
    partner_id: str | None = Field(default=None, foreign_key="partners.id", index=True)
    signature_kind: str  # eoa | erc1271 | erc6492 | passkey (registry.owners)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: int = Field(sa_type=BigInteger, index=True)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
