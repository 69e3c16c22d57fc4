"""Signed owner actions: the typed data to sign, what is relayed, and the answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.chain.client import RelayState

Hex = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]*$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
UINT256_MAX = 2**256 - 1  # signed nonces and deadlines are uint256 on chain: a larger one cannot be sent


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TypedDataOut(BaseModel):
    owner: str = Field(description="the address that must sign")
    typed_data: dict[str, Any] = Field(description="EIP-712 payload for eth_signTypedData_v4")


class SignedTransferIn(Strict):
    to: Address
    nonce: int = Field(ge=0, le=UINT256_MAX)
    deadline: int = Field(gt=0, le=UINT256_MAX)
    signature: Hex


class TransferOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    contract: str
    token_id: int
    from_: str = Field(alias="from")
    owner: str = Field(description="the recipient: the owner once the transfer is mined")
    tx_hash: str
    state: RelayState = Field(description="mined (200), or pending (202): follow it at /v1/transactions/{tx_hash}")


class StatusIn(Strict):
    status: Literal["active", "lost", "stolen"]
    nonce: int | None = Field(default=None, ge=0, le=UINT256_MAX)
    deadline: int | None = Field(default=None, gt=0, le=UINT256_MAX)
    signature: Hex | None = None


class StatusOut(BaseModel):
    contract: str
    token_id: int
    status: str
    tx_hash: str
    state: RelayState = Field(description="mined (200), or pending (202): follow it at /v1/transactions/{tx_hash}")
