"""Ownership re-checked at the chain head: the head block, then one `twinReport` call per item pinned
to that block (in `rpc_batch`'s chunks, so a hosted endpoint's batch cap is respected) with the
block read again by number, whose hash must still be the head's (no reorganisation in between).

Answers are kept per (block hash, items) for a while: games polling the same page within one block
cost one head read, not a batch per poll."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from web3 import Web3

from registry.chain.node import rpc, rpc_batch
from registry.chain.report import TwinReport, call_data, decode_report
from registry.errors import ChainUnavailable

Reports = dict[tuple[str, int], TwinReport]
CACHE_SIZE = 256  # pages per process; a page of 100 reports is a few tens of kB


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[Any, ...], Reports] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Reports | None:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], value: Reports) -> None:
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_cache = _Lru(CACHE_SIZE)


def at_head(w3: Web3, registry: str, pairs: list[tuple[str, int]]) -> tuple[int, str, Reports]:
    """(head number, head hash, each twin's report at that block)."""
    for _ in range(3):
        head = rpc(w3, "eth_getBlockByNumber", ["latest", False])
        if head is None:
            raise ChainUnavailable("the node did not return its head block")
        number, block_hash = str(head["number"]), str(head["hash"])
        key = (registry.lower(), block_hash, tuple(pairs))
        cached = _cache.get(key)
        if cached is not None:
            return int(number, 16), block_hash, cached
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{"to": registry, "data": call_data(c, t)}, number]) for c, t in pairs
        ]
        calls.append(("eth_getBlockByNumber", [number, False]))
        answers = rpc_batch(w3, calls)
        again = answers[-1]
        if again is not None and again["hash"] == block_hash:
            reports = {pair: decode_report(result) for pair, result in zip(pairs, answers[:-1], strict=True)}
            _cache.put(key, reports)
            return int(number, 16), block_hash, reports
        # The block at that height changed during the batch (a reorganisation): read the head again.
    raise ChainUnavailable("the chain head kept changing during the ownership re-check")
