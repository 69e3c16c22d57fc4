"""The relayer on its own, with a fake sender that mines only when told: identical calls in flight are
sent once, another call about a twin in flight is refused, every answer comes within its wait (as
pending when not mined), refusals are never broadcast, and how each relay was answered is kept in a
bounded LRU. (The same rules against a real node: tests/security/test_relay_copies.py and
tests/api/test_pending_relays.py.)"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import pytest
from web3.types import TxReceipt

from registry.chain.refusals import RelayTooExpensive, StaleNonce, TransactionPending
from registry.chain.relay import Relayer, twin_key
from registry.chain.sender import TxState
from registry.errors import ChainUnavailable, ContractReverted

TWIN = twin_key("0xC011EC7104", 7)


@dataclass(frozen=True)
class Call:
    """What the relayer reads of a web3 contract function."""

    address: str
    fn_name: str
    args: tuple[Any, ...]


def transfer(to: str, token: int = 7) -> Call:
    return Call("0xC011EC7104", "transferBySig", (to, token))


class FakeSender:
    """Broadcasts nothing: hands out hashes, and mines (or reverts) a transaction when the test says."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.gate = threading.Event()  # estimates wait for it: holds the first copy "being sent"
        self.gate.set()
        self.estimating = threading.Event()
        self.gas = 60_000
        self.revert: str | None = None  # custom error the simulation answers
        self.sent: list[Call] = []
        self.mined: dict[str, int] = {}  # hash -> receipt status
        self.auto_mine = False
        self.state_calls = 0

    def estimate(self, fn: Any) -> int:
        self.estimating.set()
        assert self.gate.wait(10)
        if self.revert is not None:
            raise ContractReverted(self.revert)
        return self.gas

    def send(self, fn: Any, *, gas: int | None = None) -> str:
        with self.lock:
            self.sent.append(fn)
            tx_hash = f"0x{len(self.sent):064x}"
        if self.auto_mine:
            self.mine(tx_hash)
        return tx_hash

    def mine(self, tx_hash: str, status: int = 1) -> None:
        with self.lock:
            self.mined[tx_hash] = status

    def _receipt(self, tx_hash: str) -> TxReceipt | None:
        with self.lock:
            status = self.mined.get(tx_hash)
        if status is None:
            return None
        return cast(TxReceipt, {"transactionHash": bytes.fromhex(tx_hash[2:]), "status": status, "blockNumber": 1})

    def await_receipt(self, tx_hash: str, *, timeout: float) -> TxReceipt | None:
        deadline = time.monotonic() + timeout
        while (receipt := self._receipt(tx_hash)) is None:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)
        if receipt["status"] != 1:
            raise ContractReverted("TwinmarkCollectionInvalidNonce")
        return receipt

    def current_hash(self, tx_hash: str) -> str:
        return tx_hash

    def looks_after(self, tx_hash: str) -> bool:
        return self._receipt(tx_hash) is None

    def state(self, tx_hash: str) -> TxState:
        self.state_calls += 1
        receipt = self._receipt(tx_hash)
        return TxState(tx_hash, receipt, receipt is None)


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


def test_identical_concurrent_relays_are_sent_once_and_answered_with_its_hash(sender: FakeSender) -> None:
    relayer = Relayer(sender, wait=0.5)
    sender.gate.clear()  # the first copy is still being simulated while the others arrive
    with ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(relayer.relay, transfer("0xB0B"), twin=TWIN) for _ in range(8)]
        assert sender.estimating.wait(5)
        time.sleep(0.1)
        sender.gate.set()
        hashes = [a.result() for a in answers]
    assert len(sender.sent) == 1
    assert set(hashes) == {"0x" + "1".rjust(64, "0")}
    assert relayer.state(hashes[0]) == "pending"  # not mined within the wait


def test_copies_of_a_refused_call_get_its_refusal_and_nothing_is_broadcast(sender: FakeSender) -> None:
    relayer = Relayer(sender, wait=1.0)
    sender.gate.clear()
    sender.revert = "TwinmarkCollectionInvalidNonce"
    with ThreadPoolExecutor(4) as pool:
        answers = [pool.submit(relayer.relay, transfer("0xB0B"), twin=TWIN) for _ in range(4)]
        assert sender.estimating.wait(5)
        time.sleep(0.1)
        sender.gate.set()
        for answer in answers:
            with pytest.raises(StaleNonce):
                answer.result()
    assert sender.sent == []
    sender.revert = None  # the refusal is over: the same twin is accepted again
    relayer.relay(transfer("0xB0B"), twin=TWIN, wait=0)
    assert len(sender.sent) == 1


def test_a_call_needing_more_gas_than_the_cap_is_refused_unsent(sender: FakeSender) -> None:
    relayer = Relayer(sender, gas_cap=50_000)
    with pytest.raises(RelayTooExpensive):
        relayer.relay(transfer("0xB0B"), twin=TWIN)
    assert sender.sent == []


def test_another_call_about_a_twin_in_flight_is_refused_until_it_is_mined(sender: FakeSender) -> None:
    relayer = Relayer(sender, wait=0.05)
    first = relayer.relay(transfer("0xB0B"), twin=TWIN)
    with pytest.raises(TransactionPending) as refused:
        relayer.relay(transfer("0xCAFE"), twin=TWIN)
    assert first in refused.value.detail
    relayer.relay(transfer("0xCAFE", token=8), twin=twin_key("0xC011EC7104", 8))  # another twin is free
    assert len(sender.sent) == 2
    sender.mine(first)
    relayer.relay(transfer("0xCAFE"), twin=TWIN)
    assert len(sender.sent) == 3


def test_a_call_mined_reverted_answers_its_refusal_and_frees_the_twin(sender: FakeSender) -> None:
    relayer = Relayer(sender, wait=2.0)
    threading.Timer(0.1, lambda: sender.mine("0x" + "1".rjust(64, "0"), status=0)).start()
    with pytest.raises(StaleNonce):
        relayer.relay(transfer("0xB0B"), twin=TWIN)
    sender.auto_mine = True
    assert relayer.state(relayer.relay(transfer("0xCAFE"), twin=TWIN)) == "mined"


def test_every_answer_comes_within_its_wait(sender: FakeSender) -> None:
    relayer = Relayer(sender, wait=0.3)
    started = time.monotonic()
    tx_hash = relayer.relay(transfer("0xB0B"), twin=TWIN)
    assert 0.3 <= time.monotonic() - started < 1.5
    assert relayer.state(tx_hash) == "pending"

    # Several calls share one wait: broadcast first, then awaited together.
    started = time.monotonic()
    hashes = relayer.relay_all([Call(f"0xC{n}", "setServiceProvider", ("0xP", True)) for n in range(4)])
    assert len(set(hashes)) == 4 and 0.3 <= time.monotonic() - started < 1.0  # not 4 waits of 0.3s

    # A copy of a call still being simulated gives up at its own deadline, not the first one's.
    sender.estimating.clear()
    sender.gate.clear()
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(relayer.relay, transfer("0xCAFE", token=9), twin=twin_key("0xC011EC7104", 9))
        assert sender.estimating.wait(5)
        started = time.monotonic()
        with pytest.raises(ChainUnavailable):
            relayer.relay(transfer("0xCAFE", token=9), twin=twin_key("0xC011EC7104", 9), wait=0.2)
        assert time.monotonic() - started < 1.0
        sender.gate.set()
        first.result()


def test_answers_are_kept_and_the_least_recent_is_evicted(sender: FakeSender) -> None:
    relayer = Relayer(sender, wait=0.05, outcomes_kept=2)
    pending = relayer.relay(transfer("0xB0B"), twin=TWIN)
    sender.mine(pending)
    # How the call was answered, not where it is now: the route chose 202 for it.
    assert relayer.state(pending) == "pending" and sender.state_calls == 0

    sender.auto_mine = True
    a = relayer.relay(transfer("0xA", token=1))
    b = relayer.relay(transfer("0xB", token=2))
    assert relayer.state(a) == relayer.state(b) == "mined" and sender.state_calls == 0
    # The first answer was evicted: the sender is asked, and it is mined by now.
    assert relayer.state(pending) == "mined" and sender.state_calls == 1

    relayer.state(a)  # read: now more recent than b
    c = relayer.relay(transfer("0xC", token=3))
    assert relayer.state(a) == relayer.state(c) == "mined" and sender.state_calls == 1
    assert relayer.state(b) == "mined" and sender.state_calls == 2  # b was the least recent
