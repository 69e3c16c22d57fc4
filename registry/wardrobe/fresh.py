"""Ownership re-checked at the chain head: the head block, then every item's report pinned to that
block in one batch (`NodeReads.reports_at`, which reads the block again and refuses an answer from a
reorganised chain).

Answers are kept per (block hash, items) for a while: games polling the same page within one block
cost one head read, not a batch per poll."""

from __future__ import annotations

import threading

from cachetools import LRUCache

from registry.chain.node_reads import NodeReads, Reports
from registry.errors import ChainUnavailable

CACHE_SIZE = 256  # pages per process; a page of 100 reports is a few tens of kB

_cache: LRUCache[tuple[object, ...], Reports] = LRUCache(maxsize=CACHE_SIZE)
_lock = threading.Lock()  # cachetools' caches are not thread-safe; requests run in a thread pool


def at_head(chain: NodeReads, pairs: list[tuple[str, int]]) -> tuple[int, str, Reports]:
    """(head number, head hash, each twin's report at that block)."""
    for _ in range(3):
        head = chain.head()
        key = (chain.registry_address.lower(), head.hash, tuple(pairs))
        with _lock:
            cached = _cache.get(key)
        if cached is not None:
            return head.number, head.hash, cached
        reports = chain.reports_at(pairs, head)
        if reports is not None:
            with _lock:
                _cache[key] = reports
            return head.number, head.hash, reports
        # The block at that height changed during the batch (a reorganisation): read the head again.
    raise ChainUnavailable("the chain head kept changing during the ownership re-check")
