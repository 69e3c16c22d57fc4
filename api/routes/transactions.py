"""The service's transactions by hash: what became of a relayed call answered as pending."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import ChainDep
from registry.transactions import service as transactions
from registry.transactions.schemas import TransactionOut

router = APIRouter(tags=["transactions"])

TxHash = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="a transaction hash")]


@router.get("/v1/transactions/{tx_hash}", response_model=TransactionOut)
def read_transaction(tx_hash: TxHash, chain: ChainDep) -> TransactionOut:
    """Public: a transaction of the service (a relayed claim, transfer, report, update, record, ...):
    pending, mined (block), reverted (the contract's refusal), replaced (the version to follow) or
    dropped; 404 for a hash that is not the service's."""
    return transactions.transaction(chain, tx_hash)
