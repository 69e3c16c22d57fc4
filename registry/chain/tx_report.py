"""What became of a transaction of the service (`GET /v1/transactions/{hash}`): pending, mined,
reverted with the contract's refusal, replaced by another version, or dropped. The senders that
broadcast it answer first (they follow every version); the node alone answers for one sent by
another process or before a restart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.types import TxReceipt

from registry.chain.refusals import refusal
from registry.chain.sender import TxSender
from registry.errors import ContractReverted, TwinmarkError

TxStateName = Literal["pending", "mined", "reverted", "replaced", "dropped"]


@dataclass(frozen=True)
class TxReport:
    """What became of a transaction of the service (`TwinmarkChain.transaction`)."""

    tx_hash: str
    state: TxStateName
    block_number: int | None = None  # mined or reverted
    block_hash: str | None = None
    replaced_by: str | None = None  # replaced: the version mined in its place, else the one on the wire
    reverted: ContractReverted | None = None  # reverted: the contract's refusal, decoded
    refusal: TwinmarkError | None = None  # ... and the client error a relay answers for it


def tx_hex(receipt: TxReceipt) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def transaction_report(w3: Web3, signer: TxSender, operator: TxSender, tx_hash: str) -> TxReport | None:
    """The report on a transaction of `signer` or `operator`; None for any other transaction, and for
    one neither the node nor these senders know."""
    tx_hash = tx_hash.lower()
    ours = {signer.address.lower(), operator.address.lower()}
    sender = operator if operator.knows(tx_hash) else signer
    state = sender.state(tx_hash)
    receipt = state.receipt
    if receipt is not None:
        if str(receipt["from"]).lower() not in ours:
            return None
        if state.hash != tx_hash:
            return TxReport(tx_hash, "replaced", replaced_by=state.hash)
        number, block_hash = int(receipt["blockNumber"]), "0x" + bytes(receipt["blockHash"]).hex()
        if receipt["status"] == 1:
            return TxReport(tx_hash, "mined", block_number=number, block_hash=block_hash)
        reverted = sender.revert_reason(tx_hash, receipt)
        return TxReport(tx_hash, "reverted", number, block_hash, reverted=reverted, refusal=refusal(reverted))
    if sender.knows(tx_hash):
        if state.hash != tx_hash:
            return TxReport(tx_hash, "replaced", replaced_by=state.hash)
        return TxReport(tx_hash, "pending" if state.in_flight else "dropped")
    # Not sent by this process (another one, or before a restart): the node alone knows.
    try:
        tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None
    if str(tx["from"]).lower() not in ours:
        return None
    return TxReport(tx_hash, "pending")
