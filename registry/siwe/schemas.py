"""Sign-In with Ethereum: what a game (or a player's browser) sends and gets back."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NonceOut(BaseModel):
    nonce: str = Field(description="Put in the message's `Nonce:` line; valid once, until `expires_at`")
    expires_at: datetime
    domain: str = Field(description="The authority the message must name (its first line)")
    uri: str = Field(description="The message's `URI:` must be under this origin")
    chain_id: int = Field(description="The message's `Chain ID:`")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=8192, description="The EIP-4361 message exactly as signed")
    signature: str = Field(
        pattern=r"^0x([0-9a-fA-F]{2})+$",
        max_length=20_000,
        description="personal_sign signature (65 bytes), an ERC-1271 wallet's, or an EIP-6492 wrapped one",
    )


class PartnerRef(BaseModel):
    id: str
    name: str


class SessionOut(BaseModel):
    token: str = Field(description="`tms_...` bearer token of the player's session, shown only in this answer")
    address: str
    chain_id: int
    expires_at: datetime
    partner: PartnerRef | None = Field(description="The game platform whose key asked, when one did")
    signature_kind: str = Field(description="eoa | erc1271 | erc6492")


class PlayerOut(BaseModel):
    address: str
    chain_id: int
    expires_at: datetime
    partner: PartnerRef | None
    signature_kind: str
