"""What a transaction became, and the answers of relayed calls whose own schemas live elsewhere."""

from __future__ import annotations

from pydantic import BaseModel, Field

from registry.chain.client import RelayState, TxStateName
from registry.provenance.schemas import ServiceRecordOut


class TransactionOut(BaseModel):
    tx_hash: str
    state: TxStateName = Field(
        description="pending (broadcast, not mined: the service sends it again or replaces it as needed);"
        " mined; reverted (the contract refused it when it was mined); replaced (another version of it,"
        " same nonce with higher fees, is the one to follow: `replaced_by`); dropped (its nonce went to"
        " another transaction: it will never be mined)"
    )
    block_number: int | None = Field(default=None, description="mined or reverted: its block")
    block_hash: str | None = None
    replaced_by: str | None = Field(default=None, description="replaced: the version mined, or now on the wire")
    reason: str | None = Field(default=None, description="reverted: the contract's custom error")
    code: str | None = Field(
        default=None, description="reverted: the problem type the relayed call would have answered (e.g. stale-nonce)"
    )
    detail: str | None = Field(default=None, description="reverted: what the refusal means")


class ServiceRecordRelayed(ServiceRecordOut):
    """A service record's answer with the state of its transaction. (Kept here, beside the other
    transaction states, while `registry.provenance` keeps its schemas unchanged.)"""

    state: RelayState = Field(description="mined (201), or pending (202): follow it at /v1/transactions/{tx_hash}")
