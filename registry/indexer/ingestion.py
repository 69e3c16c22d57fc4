"""Ingestion: where the indexer reads the chain. Raw JSON-RPC through the web3 provider (one place
for retries and timeouts), the head, block hashes, and logs of the registry and every collection it
created over a block range; a range the node refuses as too large raises `RangeTooLarge`, so the
caller halves it."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from registry.chain.logs import REGISTRY_EVENTS, decode
from registry.chain.node import RpcError, range_refused, rpc

MAX_RANGE = 100_000


class RangeTooLarge(Exception):
    pass


class LogSource:
    def __init__(self, w3: Web3, registry: str) -> None:
        self.w3 = w3
        self.registry = registry

    def call(self, method: str, params: list[Any]) -> Any:
        try:
            return rpc(self.w3, method, params)
        except RpcError as exc:
            if range_refused(exc.message):
                raise RangeTooLarge(exc.message) from None
            raise

    def latest(self) -> dict[str, Any]:
        """The head block (number and hash, as hex text)."""
        block: dict[str, Any] = self.call("eth_getBlockByNumber", ["latest", False])
        return block

    def block_hash(self, number: int) -> str | None:
        block = self.call("eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"])

    def fetch(self, start: int, end: int, collections: list[str]) -> list[dict[str, Any]]:
        """Logs of the registry and of `collections` (plus any collection created in the range), in order."""
        span = {"fromBlock": hex(start), "toBlock": hex(end)}
        registry_logs: list[dict[str, Any]] = self.call("eth_getLogs", [span | {"address": self.registry}])
        known = list(collections)
        for raw in registry_logs:
            decoded = decode(raw, REGISTRY_EVENTS)
            if decoded and decoded[0] == "CollectionCreated" and decoded[1]["collection"] not in known:
                known.append(decoded[1]["collection"])
        logs = list(registry_logs)
        for i in range(0, len(known), 500):
            logs += self.call("eth_getLogs", [span | {"address": known[i : i + 500]}])
        logs.sort(key=lambda raw: (int(raw["blockNumber"], 16), int(raw["logIndex"], 16)))
        return logs

    def fetch_adaptive(self, start: int, target: int, size: int, collections: list[str]) -> tuple[int, int, list[Any]]:
        """(end, size used, logs) of the largest range from `start` (at most `size` blocks, up to
        `target`) the node agrees to serve."""
        while True:
            end = min(target, start + size - 1)
            try:
                return end, size, self.fetch(start, end, collections)
            except RangeTooLarge:
                if size == 1:
                    raise
                size = max(1, size // 2)


def next_range_size(size: int, logs: int) -> int:
    """Grow the range while pages are small, shrink it when they are large."""
    return min(MAX_RANGE, size * 2) if logs < 20_000 else max(1, size // 2)
