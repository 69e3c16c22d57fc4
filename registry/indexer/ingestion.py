"""Ingestion: where the indexer reads the chain, through the chain's typed node reads (one place for
retries and timeouts): the head, block hashes, and logs of the registry and every collection it
created over a block range; a range the node refuses as too large raises `LogRangeRefused`, so the
caller halves it."""

from __future__ import annotations

from registry.chain.logs import REGISTRY_EVENTS, decode
from registry.chain.node_reads import BlockRef, LogRangeRefused, NodeReads, RawLog

MAX_RANGE = 100_000


class LogSource:
    def __init__(self, chain: NodeReads, registry: str) -> None:
        self.chain = chain
        self.registry = registry

    def latest(self) -> BlockRef:
        """The head block."""
        return self.chain.head()

    def block_hash(self, number: int) -> str | None:
        return self.chain.block_hash_at(number)

    def block_times(self, logs: list[RawLog]) -> dict[str, int]:
        return self.chain.block_times(logs)

    def fetch(self, start: int, end: int, collections: list[str]) -> list[RawLog]:
        """Logs of the registry and of `collections` (plus any collection created in the range), in order."""
        registry_logs = self.chain.range_logs(start, end, self.registry)
        known = list(collections)
        for raw in registry_logs:
            decoded = decode(raw, REGISTRY_EVENTS)
            if decoded and decoded[0] == "CollectionCreated" and decoded[1]["collection"] not in known:
                known.append(decoded[1]["collection"])
        logs = list(registry_logs)
        for i in range(0, len(known), 500):
            logs += self.chain.range_logs(start, end, known[i : i + 500])
        logs.sort(key=lambda raw: (int(raw["blockNumber"], 16), int(raw["logIndex"], 16)))
        return logs

    def fetch_adaptive(
        self, start: int, target: int, size: int, collections: list[str]
    ) -> tuple[int, int, list[RawLog]]:
        """(end, size used, logs) of the largest range from `start` (at most `size` blocks, up to
        `target`) the node agrees to serve."""
        while True:
            end = min(target, start + size - 1)
            try:
                return end, size, self.fetch(start, end, collections)
            except LogRangeRefused:
                if size == 1:
                    raise
                size = max(1, size // 2)


def next_range_size(size: int, logs: int) -> int:
    """Grow the range while pages are small, shrink it when they are large."""
    return min(MAX_RANGE, size * 2) if logs < 20_000 else max(1, size // 2)
