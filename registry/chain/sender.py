"""One transaction sender per signer: it owns the signer's nonces, and sees every transaction it
broadcast through to a block.

Nonces are handed out under a lock only when a transaction is about to be broadcast, so a failed
estimate or broadcast never burns one (no gaps), and concurrent callers never share one. Should
another process use the same key, "nonce too low" triggers a re-sync from the node. Fees follow
the EIP-1559 policy of `registry.chain.fees` under a cap: while the next block's base fee is above
the cap nothing is broadcast (`FeesAboveCap`, a 503 for API callers, a wait for the mint worker).

The sender remembers what it broadcast at each nonce (gas, fees, the signed transaction) until it
is mined, and `tend` looks after it: a transaction the node no longer knows (dropped from its pool)
is sent again, repriced if the base fee rose past it; one not mined within `stuck_seconds` is
replaced under the same nonce with both fees raised by at least the replacement rule (+10%) and to
the current market, within the cap; a nonce the node lacks and this process never used (another
process's transaction, dropped) is filled with an empty transaction after `stuck_seconds`, so
later writes are never queued behind a gap. A replacement keeps the nonce, so only one version can
land; `wait` and `state` follow every version of a transaction and answer with the one that landed.

Transient RPC failures are retried by the provider (`registry.chain.node`), never here; reverts (at
estimate time or mined) are decoded into `ContractReverted` with the contract's custom error name.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
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
from registry.chain.fees import above_cap, gwei, new_fees, repriced
from registry.chain.node import rpc
from registry.chain.reverts import RevertDecoder
from registry.errors import ChainUnavailable, ContractReverted

log = logging.getLogger(__name__)

_NONCE_ERRORS = ("nonce too low", "nonce has already been used", "replacement transaction underpriced")
# What nodes answer to signed bytes they already hold (an earlier attempt reached them, its answer was
# lost): geth, Erigon, reth and hosted providers "already known", Anvil "transaction already imported",
# Besu "known transaction". The transaction is in the pool: a success, not a refusal.
_ALREADY_HELD = ("already known", "already imported", "known transaction")
_POLL = 0.05  # seconds between receipt polls in `wait`
_SETTLED_KEPT = 4096  # mined transactions remembered (for `state` by any of their hashes)


@dataclass
class _Broadcast:
    """What was broadcast at one nonce: enough to send it again or to replace it."""

    nonce: int
    tx: dict[str, Any]  # the unsigned transaction; a replacement changes only its two fee fields
    raw: bytes  # the current version, signed
    hash: str  # the current version's hash
    versions: list[str]  # the hash of every version ever offered to the node, oldest first
    sent_at: float  # monotonic time of the last (re)broadcast: the stuck clock starts here
    settled: bool = False  # its nonce is used on chain (by one of its versions, or by another transaction)

    @property
    def max_fee(self) -> int:
        return int(self.tx["maxFeePerGas"])

    @property
    def tip(self) -> int:
        return int(self.tx["maxPriorityFeePerGas"])


@dataclass(frozen=True)
class TxState:
    """Where a transaction is, whichever of its versions is meant."""

    hash: str  # the version that was mined, else the one currently on the wire
    receipt: TxReceipt | None  # set once a version is mined
    in_flight: bool  # not mined, and still looked after (pending, or to be sent again or replaced)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


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
        self._sent: dict[int, _Broadcast] = {}  # broadcast, not known to be mined, by nonce
        self._by_hash: dict[str, _Broadcast] = {}  # every version of every remembered transaction
        self._settled: deque[_Broadcast] = deque()
        self._gaps: dict[int, float] = {}  # nonces missing at the node that this sender never used: since when
        self._tended = 0.0
        self.on_mined: Callable[[int], None] | None = None  # told the block of every receipt awaited here

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _count(self, block: str) -> int:
        return int(self.w3.eth.get_transaction_count(self.account.address, block))  # type: ignore[arg-type]

    def _sync_nonce(self) -> int:
        # Never below a nonce this sender still looks after: a dropped transaction is sent again under
        # its own nonce (`tend`), not overwritten by a new one.
        ours = max(self._sent) + 1 if self._sent else 0
        return max(self._count("pending"), ours)

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
                    if not (_already_held(message) or (taken and self._known(_hex(signed.hash)))):
                        if taken:
                            log.warning("nonce %s taken by someone else; re-syncing", self._nonce)
                            self._nonce = None
                            continue
                        raise
                record = self._remember(self._nonce, tx, signed)
                self._nonce += 1
                return record.hash
        raise ChainUnavailable("could not obtain a free nonce after 5 attempts")

    def _remember(self, nonce: int, tx: dict[str, Any], signed: Any) -> _Broadcast:
        tx_hash = _hex(signed.hash)
        record = _Broadcast(nonce, dict(tx), bytes(signed.raw_transaction), tx_hash, [tx_hash], time.monotonic())
        self._sent[nonce] = record
        self._by_hash[record.hash] = record
        return record

    def _settle(self, record: _Broadcast) -> None:
        """Its nonce is used on chain: no longer looked after; still found by its hashes for a while."""
        if self._sent.get(record.nonce) is record:
            del self._sent[record.nonce]
        if record.settled:
            return
        record.settled = True
        self._settled.append(record)
        while len(self._settled) > _SETTLED_KEPT:
            for old in self._settled.popleft().versions:
                self._by_hash.pop(old, None)

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
            self._tend(now)
        finally:
            self._lock.release()

    def _tend(self, now: float) -> None:
        assert self._nonce is not None
        mined = self._count("latest")
        for nonce in sorted(n for n in self._sent if n < mined):
            self._settle(self._sent[nonce])
        pending = self._count("pending")
        self._gaps = {n: since for n, since in self._gaps.items() if n >= pending}
        if mined < self._nonce:
            # The lowest unmined nonce is the one everything else waits on. The node's "pending" count
            # cannot tell a gap (some nodes count transactions queued behind a missing nonce), so ask
            # about that one transaction directly: re-send it if the node lost it, fill it if it never
            # was ours. Higher gaps become the lowest in turn.
            record = self._sent.get(mined) or self._unmined_by_reorg(mined)
            if record is None:
                self._fill(mined, now)
            elif not self._known(record.hash):
                self._resend(record, now)
        # Stuck: the next one to mine, or one the node counts as executable, unmined for too long (one
        # queued behind a missing nonce waits for that nonce instead).
        for record in list(self._sent.values()):
            if now - record.sent_at >= self.stuck_seconds and record.nonce < max(pending, mined + 1):
                self._reprice(record, now, replacing=True)

    def _unmined_by_reorg(self, nonce: int) -> _Broadcast | None:
        """A transaction of ours that was mined under `nonce` but whose block a reorganisation dropped:
        looked after again, so its very bytes are sent again (as the chain itself might re-include it)."""
        for record in reversed(self._settled):
            if record.nonce == nonce:
                record.settled = False
                self._sent[nonce] = record
                log.warning(
                    "nonce %s: transaction %s left the chain in a reorganisation; sending it again", nonce, record.hash
                )
                return record
        return None

    def _known(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def _mined_version(self, record: _Broadcast) -> bool:
        return any(self.receipt(h) is not None for h in record.versions)

    def _broadcast(self, raw: bytes) -> str | None:
        """Sends signed bytes; None when accepted, else the node's refusal (lower case)."""
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            message = str(exc).lower()
            return None if _already_held(message) else message
        return None

    def _resend(self, record: _Broadcast, now: float) -> None:
        """The node no longer knows the transaction (dropped from its pool): the same bytes again,
        or a repriced version when the base fee has risen past its fees."""
        if self._mined_version(record):
            return  # mined meanwhile: settled on the next pass
        refusal = self._broadcast(record.raw)
        if refusal is None:
            record.sent_at = now
            log.warning("transaction %s (nonce %s) was dropped by the node: sent again", record.hash, record.nonce)
        elif "nonce too low" in refusal or "replacement" in refusal:
            pass  # the nonce is used (or held by another transaction): settled once mined
        elif "underpriced" in refusal or "fee" in refusal:
            self._reprice(record, now, replacing=False)
        else:
            log.warning("transaction %s (nonce %s) dropped; re-sending refused: %s", record.hash, record.nonce, refusal)

    def _reprice(self, record: _Broadcast, now: float, *, replacing: bool) -> None:
        """A new version under the same nonce with higher fees, within the cap. `replacing`: another
        version is in the node's pool, so both fees rise by at least the replacement rule."""
        base, market_tip = self.market()
        record.sent_at = now  # next attempt after another `stuck_seconds`, whatever happens here
        if base > self.max_fee:
            log.warning(
                "transaction %s (nonce %s) waits: %s", record.hash, record.nonce, above_cap(base, self.max_fee).detail
            )
            return
        fees = repriced(record.max_fee, record.tip, base, market_tip, self.max_fee, replacing=replacing)
        if fees is None:
            log.warning(
                "transaction %s (nonce %s) stuck, and a replacement would exceed the cap of %s gwei: waiting",
                record.hash,
                record.nonce,
                gwei(self.max_fee),
            )
            return
        max_fee, tip = fees
        tx = record.tx | {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
        signed = self.account.sign_transaction(tx)
        # Known before it is offered: should the node take it while the answer is lost, its receipt
        # is still found.
        version = _hex(signed.hash)
        record.versions.append(version)
        self._by_hash[version] = record
        refusal = self._broadcast(signed.raw_transaction)
        if refusal is not None:
            if "nonce too low" not in refusal:  # else a version was mined: settled on the next pass
                log.warning("replacing transaction %s (nonce %s) refused: %s", record.hash, record.nonce, refusal)
            return
        old = record.hash
        record.tx, record.raw, record.hash = tx, bytes(signed.raw_transaction), version
        log.warning(
            "transaction %s (nonce %s) %s: replaced by %s (max fee %s gwei, tip %s gwei)",
            old,
            record.nonce,
            "not mined in time" if replacing else "dropped and underpriced",
            record.hash,
            gwei(max_fee),
            gwei(tip),
        )

    def _fill(self, nonce: int, now: float) -> None:
        """A nonce the node lacks that this sender never used (another process's transaction, dropped):
        after `stuck_seconds`, an empty transaction to self takes it, so later ones are not held up."""
        since = self._gaps.setdefault(nonce, now)
        if now - since < self.stuck_seconds:
            return
        self._gaps[nonce] = now  # a refused attempt is tried again after another `stuck_seconds`
        try:
            fees = self.fees()
        except FeesAboveCap as exc:
            log.warning("nonce %s missing; not filled: %s", nonce, exc.detail)
            return
        tx: dict[str, Any] = {"to": self.address, "value": 0, "gas": 21_000, "nonce": nonce, "chainId": self.chain_id}
        tx |= fees
        signed = self.account.sign_transaction(tx)
        refusal = self._broadcast(signed.raw_transaction)
        if refusal is None:
            self._remember(nonce, tx, signed)
            log.warning("nonce %s missing at the node for %.0fs: filled with an empty transaction", nonce, now - since)
        else:
            log.warning("nonce %s missing; filling it was refused: %s", nonce, refusal)

    # ------------------------------------------------------------ following a transaction

    def state(self, tx_hash: str) -> TxState:
        """Where `tx_hash` is, following its replacements: the version mined (with its receipt), else
        the current version and whether this sender still looks after it. A hash this sender never
        sent is answered from the node alone."""
        record = self._by_hash.get(tx_hash)
        settled = record.settled if record is not None else False  # read before the receipts
        versions = list(reversed(record.versions)) if record is not None else [tx_hash]
        for version in versions:
            found = self.receipt(version)
            if found is not None:
                if record is not None and not settled:
                    with self._lock:
                        self._settle(record)
                return TxState(version, found, False)
        if record is None:
            return TxState(tx_hash, None, self.pending(tx_hash))
        return TxState(record.hash, None, not settled)

    def current_hash(self, tx_hash: str) -> str:
        """The latest version of a transaction this sender broadcast (itself when never replaced)."""
        record = self._by_hash.get(tx_hash)
        return record.hash if record is not None else tx_hash

    def knows(self, tx_hash: str) -> bool:
        """Whether `tx_hash` is a version of a transaction this sender broadcast (and still remembers)."""
        return tx_hash in self._by_hash

    def looks_after(self, tx_hash: str) -> bool:
        """Whether `tx_hash` is (a version of) a transaction this sender broadcast and still looks after:
        not known to be mined, so `tend` sends it again or replaces it as needed. No node call."""
        record = self._by_hash.get(tx_hash)
        return record is not None and not record.settled

    def busy(self) -> bool:
        """Whether any transaction this sender broadcast is not yet known to be mined."""
        return bool(self._sent)

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
            if not state.in_flight and tx_hash in self._by_hash:
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


def _already_held(message: str) -> bool:
    return any(text in message for text in _ALREADY_HELD)
