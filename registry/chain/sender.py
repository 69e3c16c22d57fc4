"""One transaction sender per signer: it owns the signer's nonces, and sees every transaction it
broadcast through to a block.

Nonces are handed out under a lock only when a transaction is about to be broadcast, so a failed
estimate or broadcast never burns one (no gaps), and concurrent callers never share one. Should
another process use the same key, "nonce too low" triggers a re-sync from the node. Fees follow
the EIP-1559 policy of `registry.chain.fees` under a cap: while the next block's base fee is above
the cap nothing is broadcast (`FeesAboveCap`, a 503 for API callers, a wait for the mint worker).

What was broadcast is remembered until mined (`registry.chain.sender_inflight`), and `tend` looks
after it there: sent again when dropped, replaced with higher fees when stuck, nonce gaps filled. A
replacement keeps the nonce, so only one version can land; `wait` and `state` follow every version
of a transaction and answer with the one that landed.

Transient RPC failures are retried by the provider (`registry.chain.node`), never here; reverts (at
estimate time or mined) are decoded into `ContractReverted` with the contract's custom error name.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3._utils.method_formatters import receipt_formatter
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxReceipt

from registry.chain.fees import GWEI as GWEI
from registry.chain.fees import FeesAboveCap as FeesAboveCap
from registry.chain.fees import new_fees
from registry.chain.node import rpc
from registry.chain.reverts import RevertDecoder
from registry.chain.sender_inflight import InFlight, already_held, hex_hash, known, transaction_count
from registry.errors import ChainUnavailable, ContractReverted
from registry.metrics import record, tracing

log = logging.getLogger(__name__)

_NONCE_ERRORS = ("nonce too low", "nonce has already been used", "replacement transaction underpriced")
# What nodes answer to a nonce beyond their pending count (geth, hosted providers): the local nonce ran
# ahead of the chain (transactions the node lost, or a count bumped and never used).
_AHEAD_ERRORS = ("nonce too high", "nonce gap", "nonce is too high")
_POLL = 0.05  # seconds between receipt polls in `wait`


@dataclass(frozen=True)
class TxState:
    """Where a transaction is, whichever of its versions is meant."""

    hash: str  # the version that was mined, else the one currently on the wire
    receipt: TxReceipt | None  # set once a version is mined
    in_flight: bool  # not mined, and still looked after (pending, or to be sent again or replaced)


class TxSender:
    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        decoder: RevertDecoder,
        *,
        max_fee: int = 200 * GWEI,
        stuck_seconds: float = 60.0,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.chain_id = int(w3.eth.chain_id)
        self.max_fee = max_fee  # wei: no transaction offers more per unit of gas
        self.stuck_seconds = stuck_seconds  # a transaction pending longer is replaced with higher fees
        self.tend_interval = min(1.0, stuck_seconds / 4)
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self._tended = 0.0
        self.on_mined: Callable[[int], None] | None = None  # told the block of every receipt awaited here
        self._flight = InFlight(self)  # what was broadcast and is looked after (under `_lock`)
        self.rewinds = 0  # times the local nonce was found ahead of the node and rewound

    @property
    def address(self) -> str:
        return str(self.account.address)

    def local_nonce(self) -> int | None:
        """The next nonce this sender would use (None: it has sent nothing yet)."""
        return self._nonce

    def node_nonce(self) -> int:
        """The node's count of the signer's transactions, pending included."""
        return transaction_count(self.w3, self.account.address, "pending")

    def _sync_nonce(self) -> int:
        # Never below a nonce this sender still looks after: a dropped transaction is sent again under
        # its own nonce (`tend`), not overwritten by a new one.
        sent = self._flight.sent
        ours = max(sent) + 1 if sent else 0
        return max(transaction_count(self.w3, self.account.address, "pending"), ours)

    # ------------------------------------------------------------ fees

    def market(self) -> tuple[int, int]:
        """(base fee of the next block, suggested priority fee), in wei."""
        try:
            base = int(self.w3.eth.fee_history(1, "latest", [])["baseFeePerGas"][-1])
        except (Web3RPCError, KeyError, IndexError):  # a node without fee history
            base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        return base, int(self.w3.eth.max_priority_fee)

    def fees(self) -> dict[str, int]:
        """EIP-1559 fees for a new transaction: `2 * base + tip`, never above the cap; raises
        FeesAboveCap (nothing may be broadcast) while the base fee alone is above it."""
        base, tip = self.market()
        return new_fees(base, tip, self.max_fee)

    # ------------------------------------------------------------ sending

    def estimate(self, fn: Any) -> int:
        """Gas for `fn` with a 20% margin; a revert raises ContractReverted before any nonce is used."""
        try:
            gas = fn.estimate_gas({"from": self.account.address})
        except (ContractCustomError, ContractLogicError) as exc:
            raise self.decoder.decode(exc.data) from None
        return int(gas * 1.2) + 10_000

    def send(self, fn: Any, *, gas: int | None = None) -> str:
        """Signs and broadcasts `fn`; returns the transaction hash without waiting for it. Raises
        FeesAboveCap, before using a nonce, while the network's base fee is above the cap."""
        with tracing.span("tx.send", **{"twinmark.chain_id": self.chain_id}):
            return self._send(fn, gas)

    def _send(self, fn: Any, gas: int | None) -> str:
        queued = time.monotonic()
        record.tx(self.chain_id, self.address, "queued")
        gas = gas if gas is not None else self.estimate(fn)
        fees = self.fees()
        with self._lock:
            for _ in range(5):
                if self._nonce is None:
                    self._nonce = self._sync_nonce()
                tx = fn.build_transaction(
                    {"from": self.account.address, "nonce": self._nonce, "gas": gas, "chainId": self.chain_id, **fees}
                )
                signed = self.account.sign_transaction(tx)
                try:
                    self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except Web3RPCError as exc:
                    message = str(exc).lower()
                    taken = any(text in message for text in _NONCE_ERRORS)
                    # An earlier attempt of these very bytes reached the node and its answer was lost: the
                    # retry finds them in the pool ("already known"), or mined already (the nonce is used,
                    # by them). Sent, not refused: sending the call again would do it twice.
                    if not (already_held(message) or (taken and known(self.w3, hex_hash(signed.hash)))):
                        if taken:
                            log.warning("nonce %s taken by someone else; re-syncing", self._nonce)
                            self._nonce = None
                            continue
                        if any(text in message for text in _AHEAD_ERRORS):
                            self._rewind()
                            continue
                        raise
                sent = self._flight.remember(self._nonce, tx, signed, queued_at=queued)
                self._nonce += 1
                record.tx(self.chain_id, self.address, "sent")
                record.tx_stage(self.chain_id, "queued_to_sent", sent.first_sent_at - queued)
                return sent.hash
        raise ChainUnavailable("could not obtain a free nonce after 5 attempts")

    def _rewind(self) -> None:
        """The node refused a nonce as too high: the local count ran ahead of the chain. Back to the
        node's pending count; what this sender remembers at or above it and the node does not hold is
        lost (each batch then asks the chain whether it was minted, and is sent again if not)."""
        node = transaction_count(self.w3, self.account.address, "pending")
        lost = self._flight.forget_from(node)
        log.warning("nonce %s ahead of the node's %s: rewound (%s unheld forgotten)", self._nonce, node, lost)
        self.rewinds += 1
        self._nonce = node

    def reset(self, *, forget: bool = True) -> None:
        """Another process sends with this key now (or did meanwhile): take the next nonce from the
        node's pending count and, with `forget`, forget what this sender broadcast (whoever follows
        those transactions asks the node)."""
        with self._lock:
            if forget:
                self._flight = InFlight(self)
            self._nonce = None

    def in_flight(self) -> int:
        """Transactions broadcast and not yet known to be mined."""
        return len(self._flight.sent)

    def oldest_wait(self) -> float:
        """Seconds the oldest transaction not yet known to be mined has waited since it was last sent."""
        sent = list(self._flight.sent.values())
        return time.monotonic() - min(r.sent_at for r in sent) if sent else 0.0

    # ------------------------------------------------------------ looking after what was sent

    def tend(self) -> None:
        """Looks after every transaction this sender broadcast and is not yet mined: sends again the
        ones the node dropped, replaces the ones stuck longer than `stuck_seconds`, fills nonce gaps.
        Cheap to call often (`wait`, the mint worker and the runtime's loop while `busy` do): it runs
        at most every `tend_interval`, and is skipped while another thread is sending or tending."""
        now = time.monotonic()
        if now - self._tended < self.tend_interval or self._nonce is None:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._tended = now
            assert self._nonce is not None
            self._flight.tend(now, self._nonce)
        finally:
            self._lock.release()

    # ------------------------------------------------------------ following a transaction

    def state(self, tx_hash: str) -> TxState:
        """Where `tx_hash` is, following its replacements: the version mined (with its receipt), else
        the current version and whether this sender still looks after it. A hash this sender never
        sent is answered from the node alone."""
        record = self._flight.by_hash.get(tx_hash)
        settled = record.settled if record is not None else False  # read before the receipts
        versions = list(reversed(record.versions)) if record is not None else [tx_hash]
        for version in versions:
            found = self.receipt(version)
            if found is not None:
                if record is not None and not settled:
                    with self._lock:
                        self._flight.settle(record)
                return TxState(version, found, False)
        if record is None:
            return TxState(tx_hash, None, self.pending(tx_hash))
        return TxState(record.hash, None, not settled)

    def current_hash(self, tx_hash: str) -> str:
        """The latest version of a transaction this sender broadcast (itself when never replaced)."""
        record = self._flight.by_hash.get(tx_hash)
        return record.hash if record is not None else tx_hash

    def knows(self, tx_hash: str) -> bool:
        """Whether `tx_hash` is a version of a transaction this sender broadcast (and still remembers)."""
        return tx_hash in self._flight.by_hash

    def looks_after(self, tx_hash: str) -> bool:
        """Whether `tx_hash` is (a version of) a transaction this sender broadcast and still looks after:
        not known to be mined, so `tend` sends it again or replaces it as needed. No node call."""
        record = self._flight.by_hash.get(tx_hash)
        return record is not None and not record.settled

    def busy(self) -> bool:
        """Whether any transaction this sender broadcast is not yet known to be mined."""
        return bool(self._flight.sent)

    def wait(self, tx_hash: str, *, timeout: float = 120.0) -> TxReceipt:
        """The receipt of a mined transaction, or of the replacement that was mined in its place; a
        mined revert raises ContractReverted. Looks after stuck and dropped transactions meanwhile."""
        receipt = self.await_receipt(tx_hash, timeout=timeout)
        if receipt is None:
            raise ChainUnavailable(f"transaction {tx_hash} not mined within {timeout}s")
        return receipt

    def await_receipt(self, tx_hash: str, *, timeout: float) -> TxReceipt | None:
        """As `wait`, but None when no version is mined within `timeout` seconds (the transaction stays
        looked after: `tend` keeps sending it again or replacing it). Raises ChainUnavailable when
        another transaction used its nonce, ContractReverted when it was mined and reverted."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(tx_hash)
            if state.receipt is not None:
                break
            if not state.in_flight and tx_hash in self._flight.by_hash:
                raise ChainUnavailable(f"transaction {tx_hash} was superseded: another transaction used its nonce")
            if time.monotonic() >= deadline:
                return None
            self.tend()
            time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
        receipt = state.receipt
        if self.on_mined is not None:
            self.on_mined(int(receipt["blockNumber"]))
        if receipt["status"] != 1:
            raise self.revert_reason(state.hash, receipt)
        return receipt

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt if mined, else None (never blocks), without its logs: following a transaction
        needs its status and block, and formatting the 2,000 logs of a large mint on every poll cost
        more than the rest of the worker's pass. `transact` returns receipts with their logs."""
        found = rpc(self.w3, "eth_getTransactionReceipt", [tx_hash])
        if found is None:  # pending or unknown
            return None
        return cast(TxReceipt, receipt_formatter({k: v for k, v in found.items() if k != "logs"} | {"logs": []}))

    def full_receipt(self, tx_hash: str) -> TxReceipt:
        """The mined receipt with its logs."""
        return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]

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
        """Sends, awaits and returns the receipt with its logs (for the events it emitted)."""
        mined = self.wait(self.send(fn, gas=gas))
        return self.full_receipt("0x" + bytes(mined["transactionHash"]).hex())
