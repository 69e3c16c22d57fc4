"""Claim secrets handed to the brand, and a buyer's claim."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from registry.chain.client import RelayState

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class ClaimSecret(BaseModel):
    contract: str
    token_id: int
    name: str
    gtin: str | None
    serial: str | None
    secret: str
    claim_url: str = Field(description="the twin's page with the secret in the fragment (never sent to a server)")


class ClaimSecretsOut(BaseModel):
    job: str
    secrets: list[ClaimSecret]
    note: str


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    secret: str = Field(min_length=16, max_length=100)
    recipient: Address


class ClaimOut(BaseModel):
    contract: str
    token_id: int
    owner: str = Field(description="the recipient: the owner once the claim is mined")
    tx_hash: str
    state: RelayState = Field(description="mined (200), or pending (202): follow it at /v1/transactions/{tx_hash}")
