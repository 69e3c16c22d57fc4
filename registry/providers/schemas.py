"""What provider routes take and answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from registry.chain.client import RelayState


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)


class ProviderCreated(BaseModel):
    id: str
    name: str
    address: str
    api_key: str = Field(description="shown only in this answer")
    tx_hashes: list[str] = Field(description="its authorisation on chain, one per collection of the brand")
    state: RelayState = Field(
        description="mined (201), or pending (202: an authorisation is not mined yet; follow each at"
        " /v1/transactions/{tx_hash})"
    )
