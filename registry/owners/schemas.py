"""Owners' passkey API: ceremony options and answers, what a passkey signs, and what is relayed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from registry.ownership.schemas import UINT256_MAX, Address, Strict

Credential = dict[str, Any]  # a PublicKeyCredential as JSON (`toJSON()`), checked by py_webauthn


class CeremonyOut(BaseModel):
    challenge_id: str
    options: dict[str, Any] = Field(description="PublicKeyCredential{Creation,Request}OptionsJSON")


class CeremonyIn(Strict):
    challenge_id: str = Field(max_length=64)
    credential: Credential


class RegisteredOut(BaseModel):
    account: str = Field(description="the passkey account (predicted; deployed at its first action)")
    credential_id: str
    synced: bool = Field(description="backup eligible: the passkey follows an Apple or Google account")
    token: str | None = Field(default=None, description="a player session (Bearer tms_...), for a new owner")
    expires_at: datetime | None = None


class SignedInOut(BaseModel):
    account: str
    token: str = Field(description="a player session token: Authorization: Bearer tms_...")
    expires_at: datetime


class AccountOut(BaseModel):
    """The signed-in owner's account as a page signing for it needs it (ERC-7739 domain, EIP-6492)."""

    account: str
    chain_id: int
    deployed: bool = Field(description="has code: until then signatures are wrapped for EIP-6492")


class CallOut(BaseModel):
    to: str
    value: int
    data: str


class ToSignOut(BaseModel):
    """What a passkey signs for one action. The page recomputes `challenge` from the fields it shows
    (and these) before asking the passkey, never signing it blindly."""

    path: Literal["erc1271", "execute"] = Field(
        description="erc1271: the collection asks the account; execute: the account acts"
    )
    challenge: str = Field(description="the 32-byte digest, 0x hex: the WebAuthn challenge")
    account: str
    chain_id: int
    deadline: int
    nonce: int | None = Field(default=None, description="the twin's nonce (twin actions)")
    account_nonce: int | None = Field(default=None, description="the account's nonce (execute path)")
    calls: list[CallOut] = Field(default_factory=list, description="execute path: the account's calls")
    allow_credentials: list[str] = Field(description="credential ids (base64url) that may sign")
    verifier: str | None = Field(default=None, description="device changes: the WebAuthn verifier in the signer")


class PasskeyTransferIn(Strict):
    to: Address
    nonce: int = Field(ge=0, le=UINT256_MAX)
    deadline: int = Field(gt=0, le=UINT256_MAX)
    account_nonce: int | None = Field(default=None, ge=0, le=UINT256_MAX)
    credential: Credential


class PasskeyStatusIn(Strict):
    status: Literal["active", "lost", "stolen"]
    nonce: int = Field(ge=0, le=UINT256_MAX)
    deadline: int = Field(gt=0, le=UINT256_MAX)
    account_nonce: int | None = Field(default=None, ge=0, le=UINT256_MAX)
    credential: Credential


class SignedExecuteIn(Strict):
    deadline: int = Field(gt=0, le=UINT256_MAX)
    account_nonce: int = Field(ge=0, le=UINT256_MAX)
    credential: Credential


class DeviceOut(BaseModel):
    credential_id: str
    qx: str
    qy: str
    synced: bool
    created_at: datetime
    last_used_at: datetime | None


class DeviceAddedOut(BaseModel):
    credential_id: str
    to_sign: ToSignOut = Field(description="an existing passkey signs this to add the new one on chain")


class ExecutedOut(BaseModel):
    account: str
    tx_hash: str
    state: Literal["mined", "pending"]
