"""Owners' passkeys: each credential, the account it signs for, and single-use ceremony challenges.

No personal data: the WebAuthn user handle is random, the display name a fixed label. The account
is the passkey account the credential's key predicts (`TwinmarkAccountFactory.predict`), or, for a
device added later, the account it was added to as a signer; the chain, not this table, says
whether a key may still sign for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class OwnerPasskey(SQLModel, table=True):
    __tablename__ = "owner_passkeys"

    credential_id: str = Field(primary_key=True)  # base64url
    account: str = Field(index=True)  # EIP-55
    user_handle: str  # base64url, random (no personal data)
    qx: str  # the P-256 key's x, 64 hex digits
    qy: str
    cose_key: str  # COSE public key, base64url (what py_webauthn checks assertions against)
    sign_count: int = Field(default=0, sa_type=BigInteger)
    aaguid: str | None = None
    backup_eligible: bool = False  # BE: may be synced (iCloud Keychain, Google Password Manager)
    backup_state: bool = False  # BS: synced now
    transports: str | None = None  # comma-separated, as the browser reported them
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None


class OwnerChallenge(SQLModel, table=True):
    """A WebAuthn challenge of an owner's ceremony, usable once and for five minutes."""

    __tablename__ = "owner_challenges"

    id: str = Field(primary_key=True)
    challenge: str  # base64url
    purpose: str  # "register", "sign-in" or "add-device"
    account: str | None = None  # add-device: the account the new passkey will sign for
    user_handle: str | None = None  # register / add-device: the handle the new credential carries
    expires_at: datetime
    used_at: datetime | None = None
