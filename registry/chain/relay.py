"""Relay coordination: the service pays for calls users (and brands) sign, so it sends each one once,
refuses what would revert or cost too much before broadcasting, and answers within a bounded wait.

A relayed call is simulated first (a revert becomes the domain's client error, `refusals`; a call
needing more than `gas_cap` gas is refused), then broadcast, then awaited at most `wait` seconds: a
transaction not mined by then is answered as pending, and the sender keeps looking after it.
Identical calls arriving while one is in flight follow it instead of paying for copies that revert;
another call about the same twin is refused until the first is mined. How each relay was answered
is kept in a bounded LRU (`state`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cachetools import LRUCache
from web3.types import TxReceipt

from registry.chain.refusals import RelayTooExpensive, TransactionPending, refusal
from registry.chain.sender import TxState
from registry.chain.tx_report import tx_hex
from registry.errors import ChainUnavailable, ContractReverted

RelayState = Literal["mined", "pending"]
"""How a relayed call was answered: mined within the relay wait, or broadcast and not yet mined."""

Twin = tuple[str, int]  # (collection lower-cased, token id)

OUTCOMES_KEPT = 4096  # how recent relays were answered, for `Relayer.state`


def twin_key(collection: str, token_id: int) -> Twin:
    return collection.lower(), token_id


class RelaySender(Protocol):
    """What relaying needs of a transaction sender (`TxSender`)."""

    def estimate(self, fn: Any) -> int: ...
    def send(self, fn: Any, *, gas: int | None = None) -> str: ...
    def await_receipt(self, tx_hash: str, *, timeout: float) -> TxReceipt | None: ...
    def current_hash(self, tx_hash: str) -> str: ...
    def looks_after(self, tx_hash: str) -> bool: ...
    def state(self, tx_hash: str) -> TxState: ...


@dataclass
class _InFlight:
    """A relayed call being sent, or sent and not yet mined. Identical calls follow it instead of
    sending another copy; other calls for the same twin are refused until it is mined."""

    key: str
    twin: Twin | None
    sent: Future[str] = field(default_factory=Future)  # its transaction hash once broadcast, or the refusal


class Relayer:
    def __init__(
        self, sender: RelaySender, *, gas_cap: int = 500_000, wait: float = 10.0, outcomes_kept: int = OUTCOMES_KEPT
    ) -> None:
        self.sender = sender
        self.gas_cap = gas_cap
        self.wait = wait  # seconds a relayed call waits for its receipt before answering "pending"
        self._lock = threading.Lock()
        self._relays: dict[str, _InFlight] = {}  # by call
        self._twins: dict[Twin, _InFlight] = {}  # by (collection, token id)
        self._outcomes: LRUCache[str, RelayState] = LRUCache(outcomes_kept)

    def relay(
        self,
        fn: Any,
        *,
        twin: Twin | None = None,
        key: str | None = None,
        wait: float | None = None,
        gas_cap: int | None = None,
    ) -> str:
        """Sends a relayed call and waits for its receipt at most `wait` seconds (default `self.wait`);
        returns its transaction hash, and `state(hash)` says whether it was mined meanwhile. A contract
        refusal (simulated, or mined) becomes the domain's client error.

        Identical calls (same `key`; default: same function and arguments) arriving while one is in
        flight are sent once: the copies follow it, each for at most its own wait, and get its hash (or
        its refusal), instead of each paying for a transaction that reverts. While a call about `twin`
        is in flight (being sent, or sent and not mined), another one about it is refused
        (`TransactionPending`): it would be simulated against the state before the first, and could
        revert on chain at the service's cost. `gas_cap` replaces `self.gas_cap` for this call (passkey
        accounts verifying P-256 in Solidity need more).
        """
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        entry, owner = self._enter(key or _call_key(fn), twin)
        tx_hash = self._send(fn, entry, gas_cap) if owner else self._sent_by(entry, deadline)
        return self._follow(entry, tx_hash, deadline)

    def relay_all(self, fns: Sequence[Any]) -> list[str]:
        """Several relayed calls, all broadcast first, then awaited together within one `wait`."""
        deadline = time.monotonic() + self.wait
        started = []
        for fn in fns:
            entry, owner = self._enter(_call_key(fn), None)
            started.append((entry, self._send(fn, entry) if owner else self._sent_by(entry, deadline)))
        return [self._follow(entry, tx_hash, deadline) for entry, tx_hash in started]

    def state(self, tx_hash: str) -> RelayState:
        """How the relayed call that returned `tx_hash` was answered: mined within the relay wait, or
        pending (broadcast, looked after, and followed with `TwinmarkChain.transaction`). Beyond the
        outcomes kept, the sender is asked whether it is mined."""
        with self._lock:
            known = self._outcomes.get(tx_hash)
        if known is not None:
            return known
        receipt = self.sender.state(tx_hash).receipt
        return "mined" if receipt is not None and receipt["status"] == 1 else "pending"

    def forget_over(self) -> None:
        """Forgets relays that were refused or that the sender no longer looks after (mined, or
        superseded), so calls about their twins are accepted again. No node call."""
        with self._lock:
            entries = list(self._relays.values())
        for entry in entries:
            if entry.sent.done() and (
                entry.sent.exception() is not None or not self.sender.looks_after(entry.sent.result())
            ):
                self._forget(entry)

    def _enter(self, key: str, twin: Twin | None) -> tuple[_InFlight, bool]:
        """The in-flight relay of an identical call, to follow (False), or a new one this call sends (True)."""
        while True:
            with self._lock:
                entry = self._relays.get(key) or (self._twins.get(twin) if twin is not None else None)
                if entry is None:
                    entry = _InFlight(key, twin)
                    self._relays[key] = entry
                    if twin is not None:
                        self._twins[twin] = entry
                    return entry, True
            if self._over(entry):  # asked outside the lock: it may take a node call
                self._forget(entry)
                continue
            if entry.key == key:
                return entry, False
            sent = entry.sent.result() if entry.sent.done() else None
            raise TransactionPending(
                "a relayed transaction for this twin is not mined yet"
                + (f" ({sent}: follow it at /v1/transactions/{sent})" if sent else "")
                + "; send this one once it is",
                tx_hash=sent,
            )

    def _over(self, entry: _InFlight) -> bool:
        """Whether an in-flight relay is over: refused, mined, or no longer looked after."""
        if not entry.sent.done():
            return False
        if entry.sent.exception() is not None:
            return True
        tx_hash = entry.sent.result()
        if not self.sender.looks_after(tx_hash):
            return True
        state = self.sender.state(tx_hash)
        return state.receipt is not None or not state.in_flight

    def _forget(self, entry: _InFlight) -> None:
        with self._lock:
            if self._relays.get(entry.key) is entry:
                del self._relays[entry.key]
            if entry.twin is not None and self._twins.get(entry.twin) is entry:
                del self._twins[entry.twin]

    def _send(self, fn: Any, entry: _InFlight, gas_cap: int | None = None) -> str:
        cap = self.gas_cap if gas_cap is None else gas_cap
        try:
            # The simulation decides: a call it says reverts, or that needs more gas than the cap
            # (a contract wallet or receiver burning gas), is refused and never broadcast.
            gas = self.sender.estimate(fn)
            if gas > cap:
                raise RelayTooExpensive(f"the call would need about {gas} gas; the service relays at most {cap}")
            tx_hash = self.sender.send(fn, gas=gas)
        except ContractReverted as exc:
            error = refusal(exc)
            entry.sent.set_exception(error)
            self._forget(entry)
            raise error from None
        except BaseException as exc:
            entry.sent.set_exception(exc)
            self._forget(entry)
            raise
        entry.sent.set_result(tx_hash)
        return tx_hash

    @staticmethod
    def _sent_by(entry: _InFlight, deadline: float) -> str:
        """The hash of the identical call in flight, once it is broadcast (or its refusal)."""
        try:
            return entry.sent.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise ChainUnavailable("an identical call is still being sent; ask again shortly") from None

    def _follow(self, entry: _InFlight, tx_hash: str, deadline: float) -> str:
        """Waits for the receipt until `deadline`: the hash of the version mined, or of the one on the
        wire (answered as pending; the sender keeps looking after it)."""
        try:
            receipt = self.sender.await_receipt(tx_hash, timeout=max(0.0, deadline - time.monotonic()))
        except ContractReverted as exc:
            self._forget(entry)
            raise refusal(exc) from None
        if receipt is None:
            current = self.sender.current_hash(tx_hash)
            self._answered(current, "pending")
            return current
        self._forget(entry)
        mined = tx_hex(receipt)
        self._answered(mined, "mined")
        return mined

    def _answered(self, tx_hash: str, state: RelayState) -> None:
        with self._lock:
            self._outcomes[tx_hash] = state


def _call_key(fn: Any) -> str:
    """Identical calls: the same contract, function and arguments."""
    return repr((fn.address, fn.fn_name, fn.args))
