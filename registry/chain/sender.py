"""One transaction sender per signer: it owns the signer's nonces.

Nonces are handed out under a lock only when a transaction is about to be broadcast, so a failed
estimate or broadcast never burns one (no gaps), and concurrent callers never share one. Should
another process use the same key, "nonce too low" triggers a re-sync from the node. Fees follow
EIP-1559; transient RPC failures are retried by the provider (`registry.chain.node`), never here;
reverts (at estimate time or mined) are decoded into `ContractReverted` with the contract's custom
error name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxReceipt

from registry.chain.reverts import RevertDecoder
from registry.errors import ChainUnavailable, ContractReverted

log = logging.getLogger(__name__)

_NONCE_ERRORS = ("nonce too low", "nonce has already been used", "replacement transaction underpriced")


class TxSender:
    def __init__(self, w3: Web3, account: LocalAccount, decoder: RevertDecoder) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.chain_id = int(w3.eth.chain_id)
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self.on_mined: Callable[[int], None] | None = None  # told the block of every receipt awaited here

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _sync_nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.account.address, "pending"))

    def _fees(self) -> dict[str, int]:
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        tip = int(self.w3.eth.max_priority_fee)
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def estimate(self, fn: Any) -> int:
        """Gas for `fn` with a 20% margin; a revert raises ContractReverted before any nonce is used."""
        try:
            gas = fn.estimate_gas({"from": self.account.address})
        except (ContractCustomError, ContractLogicError) as exc:
            raise self.decoder.decode(exc.data) from None
        return int(gas * 1.2) + 10_000

    def send(self, fn: Any, *, gas: int | None = None) -> str:
        """Signs and broadcasts `fn`; returns the transaction hash without waiting for it."""
        gas = gas if gas is not None else self.estimate(fn)
        fees = self._fees()
        with self._lock:
            for _ in range(5):
                if self._nonce is None:
                    self._nonce = self._sync_nonce()
                tx = fn.build_transaction(
                    {"from": self.account.address, "nonce": self._nonce, "gas": gas, "chainId": self.chain_id, **fees}
                )
                signed = self.account.sign_transaction(tx)
                try:
                    tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except Web3RPCError as exc:
                    message = str(exc).lower()
                    if "already known" in message:  # an earlier attempt did reach the node
                        tx_hash = signed.hash
                    elif any(text in message for text in _NONCE_ERRORS):
                        log.warning("nonce %s taken by someone else; re-syncing", self._nonce)
                        self._nonce = None
                        continue
                    else:
                        raise
                self._nonce += 1
                return "0x" + bytes(tx_hash).hex()
        raise ChainUnavailable("could not obtain a free nonce after 5 attempts")

    def wait(self, tx_hash: str, *, timeout: float = 120.0) -> TxReceipt:
        """The receipt of a mined transaction; a mined revert raises ContractReverted."""
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=timeout,
                poll_latency=0.05,
            )
        except TimeExhausted as exc:
            raise ChainUnavailable(f"transaction {tx_hash} not mined within {timeout}s") from exc
        if self.on_mined is not None:
            self.on_mined(int(receipt["blockNumber"]))
        if receipt["status"] != 1:
            raise self.revert_reason(tx_hash, receipt)
        return receipt

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt if mined, else None (never blocks)."""
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:  # pending or unknown
            return None

    def pending(self, tx_hash: str) -> bool:
        """Whether the node holds the transaction, not yet mined (False: mined, dropped or never seen)."""
        try:
            tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return tx.get("blockNumber") is None

    def revert_reason(self, tx_hash: str, receipt: TxReceipt) -> ContractReverted:
        """Why a mined transaction reverted, by replaying it on the state before its block."""
        tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            return self.decoder.decode(exc.data)
        return ContractReverted("UnknownRevert")

    def transact(self, fn: Any, *, gas: int | None = None) -> TxReceipt:
        return self.wait(self.send(fn, gas=gas))
