"""Opportunistic batching of cold verifications: a lone caller fetches at once; callers arriving while
a fetch is in flight share the next one; a failure reaches exactly the callers of its fetch."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry.verify.batching import Batcher


class Gate:
    """A fetch that records its calls and can be held open."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_on: set[int] = set()

    def fetch(self, keys: list[int]) -> list[str]:
        self.calls.append(list(keys))
        self.entered.set()
        assert self.release.wait(10)
        if self.fail_on & set(keys):
            raise RuntimeError("node away")
        return [f"v{k}" for k in keys]


def test_a_lone_caller_fetches_alone_and_at_once() -> None:
    gate = Gate()
    batcher = Batcher(gate.fetch)
    assert batcher.get(7) == "v7"
    assert batcher.get(8) == "v8"
    assert gate.calls == [[7], [8]]


def crowd(batcher: Batcher[int, str], gate: Gate, later: list[int]) -> list[str]:
    """Key 0 starts a fetch that is held open; `later` arrive meanwhile; then the fetch is let go.
    The answers, in the order asked."""
    gate.release.clear()
    with ThreadPoolExecutor(max_workers=len(later) + 1) as pool:
        first = pool.submit(batcher.get, 0)
        assert gate.entered.wait(5)
        rest = [pool.submit(batcher.get, k) for k in later]
        deadline = time.monotonic() + 5
        while len(batcher._pending) < len(later) and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.release.set()
        return [f.result(5) for f in [first, *rest]]


def test_callers_arriving_during_a_fetch_share_the_next_one() -> None:
    gate = Gate()
    later = [*range(1, 11), 5]  # the same key twice: fetched once, answered twice
    assert crowd(Batcher(gate.fetch, max_size=48), gate, later) == [f"v{k}" for k in [0, *later]]
    assert gate.calls[0] == [0]
    assert sorted(gate.calls[1]) == list(range(1, 11)) and len(gate.calls) == 2


def test_max_size_splits_a_crowd() -> None:
    gate = Gate()
    later = list(range(1, 11))
    assert crowd(Batcher(gate.fetch, max_size=4), gate, later) == [f"v{k}" for k in range(11)]
    assert [len(c) for c in gate.calls] == [1, 4, 4, 2]


def test_a_failure_reaches_the_callers_of_its_fetch_only() -> None:
    gate = Gate()
    gate.fail_on = {3}
    batcher = Batcher(gate.fetch)
    with pytest.raises(RuntimeError, match="node away"):
        batcher.get(3)
    gate.fail_on = set()
    assert batcher.get(3) == "v3"  # nothing kept of the failure; the batcher is free again
