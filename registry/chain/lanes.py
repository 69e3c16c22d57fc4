"""Signer lanes: several minter keys, each with its own nonce sequence (its own `TxSender`) and its
own cap on transactions in flight, so mints are not queued behind one account's nonces, and one
account's trouble (a stuck transaction, a lost minter role) holds up only the batches on it.

Lane 0 is the service's signer (custodian of every new twin, whichever lane mints it). A collection's
mints must land in batch-id order, which only one account's nonces guarantee: while a collection has a
mint in flight its next ones take the same lane; otherwise a batch takes the least busy lane that is
free, not stuck, and a minter of the collection. Should the order break anyway (a restart forgets
which lane a hash was on), the contract refuses the early mint and the worker sends it again: the
contract's batch ids, not the lanes, keep minting exactly-once.

Private to `registry.chain` (it holds senders): the worker sees lanes only as numbers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence

from registry.chain.sender import TxSender

log = logging.getLogger(__name__)


class Lanes:
    def __init__(
        self, senders: Sequence[TxSender], *, max_in_flight: int, is_minter: Callable[[str, str], bool]
    ) -> None:
        assert senders, "at least the service's signer"
        self.senders = list(senders)
        self.max_in_flight = max_in_flight
        self._is_minter = is_minter  # (collection, address) -> holds the minter role there
        self._minter: dict[tuple[int, str], bool] = {}  # (lane, collection) -> role, asked once
        self._last: dict[str, tuple[int, str]] = {}  # collection -> (lane, hash) of its latest mint
        self._lock = threading.Lock()
        self._turn = 0

    @property
    def primary(self) -> TxSender:
        return self.senders[0]

    def stuck(self, lane: int) -> bool:
        """A lane whose oldest transaction waits longer than its replacement clock: no new work."""
        sender = self.senders[lane]
        return sender.oldest_wait() >= sender.stuck_seconds

    def free(self, collection: str, usable: Collection[int] | None = None) -> int | None:
        """The lane the collection's next mint takes now, among `usable` (None: all; with several
        worker processes, the lanes this one holds), or None (it waits: its lane is full, stuck or
        not usable, or no lane is free)."""
        key = collection.lower()
        allowed = range(len(self.senders)) if usable is None else usable
        with self._lock:
            last = self._last.get(key)
        if last is not None and self.senders[last[0]].looks_after(last[1]):
            lane = last[0]  # order within the collection: behind its mint in flight
            free = self.senders[lane].in_flight() < self.max_in_flight and not self.stuck(lane)
            return lane if free and lane in allowed else None
        ready = [
            i
            for i, s in enumerate(self.senders)
            if i in allowed and s.in_flight() < self.max_in_flight and not self.stuck(i) and self.minter(i, key)
        ]
        if not ready:
            return None
        with self._lock:  # equally busy lanes take turns, so every key stays in use (and tested by use)
            self._turn += 1
            turn = self._turn
        n = len(self.senders)
        return min(ready, key=lambda i: (self.senders[i].in_flight(), (i - turn) % n))

    def minter(self, lane: int, collection: str) -> bool:
        key = (lane, collection.lower())
        if key not in self._minter:
            self._minter[key] = lane == 0 or self._is_minter(collection, self.senders[lane].address)
        return self._minter[key]

    def handed_over(self, lane: int) -> None:
        """Another process held (or is to hold) the lane: what this one remembers of it is void. (Lane
        0 also relays this process's calls, which it keeps following: only its nonce is asked again.)"""
        self.senders[lane].reset(forget=lane != 0)
        with self._lock:
            for key in [k for k, (i, _) in self._last.items() if i == lane]:
                del self._last[key]

    def sent(self, lane: int, collection: str, tx_hash: str) -> None:
        with self._lock:
            self._last[collection.lower()] = (lane, tx_hash)

    def of(self, tx_hash: str) -> TxSender:
        """The lane that sent `tx_hash` (any of its versions); the service's signer when none remembers it."""
        for sender in self.senders:
            if sender.knows(tx_hash):
                return sender
        return self.primary

    def refused(self, collection: str, tx_hash: str) -> bool:
        """A mint sent on a lane reverted as unauthorised: that lane lost the collection's minter role.
        It takes no more of the collection's batches; True when another lane may still mint them."""
        sent_by = str(self.primary.w3.eth.get_transaction(tx_hash)["from"]).lower()  # type: ignore[arg-type]
        lanes = [i for i, s in enumerate(self.senders) if s.address.lower() == sent_by]
        if not lanes:
            return False
        lane, sender = lanes[0], self.senders[lanes[0]]
        key = collection.lower()
        self._minter[(lane, key)] = False
        with self._lock:
            if self._last.get(key, (-1, ""))[0] == lane:
                del self._last[key]
        log.warning("lane %s (%s) is no minter of %s now: its batches go to other lanes", lane, sender.address, key)
        return any(self.minter(i, key) for i in range(len(self.senders)) if i != lane)
