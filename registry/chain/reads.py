"""Reading the chain's history: log queries bounded to the deployment block and split into spans,
a token's events with their block times, and what a verification reads (reports of twins with the
events the index has not reached, one JSON-RPC batch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from web3 import Web3

from registry.chain.layout import batch_of
from registry.chain.logs import COLLECTION_EVENTS, collection_topic, decode
from registry.chain.node import RpcError, range_refused, rpc, rpc_batch
from registry.chain.node_reads import NodeReads
from registry.chain.report import TwinReport, call_data, decode_report

# Collection events keyed by token (topic 1), beside Transfer (token in topic 3) and BatchMinted.
_BY_TOKEN = ("Claimed", "StatusChanged", "ContentUpdated", "ServiceRecorded", "TwinLinked")


def uint_topic(value: int) -> str:
    """A uint256 as an indexed topic."""
    return "0x" + value.to_bytes(32, "big").hex()


@dataclass(frozen=True)
class ChainLog:
    """One decoded event of a token's history, with the time of its block."""

    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    block_time: datetime
    block_hash: str = ""


class LogReads(NodeReads):
    """The history half of `TwinmarkChain` (which sets these attributes), over the node reads."""

    from_block: int  # the registry's deployment block: no log of ours is older
    log_span: int

    def block_number(self) -> int:
        raise NotImplementedError

    # ------------------------------------------------------------ logs

    def logs(self, query: dict[str, Any], *, start: int | None = None) -> list[dict[str, Any]]:
        """Raw `eth_getLogs` results from `start` (default: the deployment block) to the head, in spans
        of at most `log_span` blocks; a span the node refuses is halved (and stays halved)."""
        end = self.block_number()
        position = max(self.from_block, start if start is not None else 0)
        found: list[dict[str, Any]] = []
        while position <= end:
            stop = min(end, position + self.log_span - 1)
            try:
                found += rpc(self.w3, "eth_getLogs", [query | {"fromBlock": hex(position), "toBlock": hex(stop)}])
            except RpcError as exc:
                if self.log_span > 1 and range_refused(exc.message):
                    self.log_span = max(1, self.log_span // 2)
                    continue
                raise
            position = stop + 1
        return found

    def batch_minted_log(self, collection: str, batch_id: int) -> tuple[str, int] | None:
        """(tx hash, block) of the BatchMinted event of `batch_id`, if the chain has one."""
        query = {
            "address": Web3.to_checksum_address(collection),
            "topics": [collection_topic("BatchMinted"), uint_topic(batch_id)],
        }
        found = self.logs(query)
        return (str(found[0]["transactionHash"]), int(found[0]["blockNumber"], 16)) if found else None

    def _history_queries(self, collection: str, token_id: int) -> list[dict[str, Any]]:
        """The `eth_getLogs` filters of one token's history (without block bounds)."""
        address = Web3.to_checksum_address(collection)
        token = uint_topic(token_id)
        return [
            {"address": address, "topics": [[collection_topic(name) for name in _BY_TOKEN], token]},
            {"address": address, "topics": [collection_topic("Transfer"), None, None, token]},
            {"address": address, "topics": [collection_topic("BatchMinted"), uint_topic(batch_of(token_id))]},
        ]

    def history(self, collection: str, token_id: int, *, start: int | None = None) -> list[ChainLog]:
        """Every event about one token from block `start` (default: the deployment block), oldest
        first: its batch's mint, transfers, claims, status changes, content updates, service records,
        links; each with its block's time. Bounded: every query is split to `log_span` blocks."""
        queries = self._history_queries(collection, token_id)
        return self._chain_logs([log for query in queries for log in self.logs(query, start=start)])

    def _chain_logs(self, raw_logs: list[dict[str, Any]], times: dict[str, int] | None = None) -> list[ChainLog]:
        raw_logs.sort(key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
        times = self.block_times(raw_logs) if times is None else times
        out = []
        for log in raw_logs:
            decoded = decode(log, COLLECTION_EVENTS)
            if decoded is None or log["blockHash"] not in times:
                continue
            out.append(
                ChainLog(
                    decoded[0],
                    decoded[1],
                    int(log["blockNumber"], 16),
                    int(log["logIndex"], 16),
                    log["transactionHash"],
                    datetime.fromtimestamp(times[log["blockHash"]], UTC),
                    log["blockHash"],
                )
            )
        return out

    # ------------------------------------------------------------ verification

    def twin_report(self, collection: str, token_id: int) -> TwinReport:
        """Collection, brand, compromise windows and twin in one `eth_call`."""
        call = {"to": self.registry_address, "data": call_data(Web3.to_checksum_address(collection), token_id)}
        return decode_report(rpc(self.w3, "eth_call", [call, "latest"]))

    def reports_and_recent(
        self, items: list[tuple[str, int]], start: int, head: int
    ) -> list[tuple[TwinReport, list[ChainLog]]]:
        """For each (collection, token): its report and its events in blocks `start`..`head`, all as one
        JSON-RPC batch (one round trip for up to `BATCH_SIZE` calls; another only when the node leaves
        block times out of logs). A span the node refuses (the index is far behind) is read again in
        bounded spans."""
        start = max(start, self.from_block)
        recent = start <= head  # else nothing beyond the index yet: the reports alone
        bounds = {"fromBlock": hex(start), "toBlock": hex(head)}
        calls: list[tuple[str, list[Any]]] = []
        for collection, token_id in items:
            data = call_data(Web3.to_checksum_address(collection), token_id)
            calls.append(("eth_call", [{"to": self.registry_address, "data": data}, "latest"]))
            if recent:
                calls += [("eth_getLogs", [q | bounds]) for q in self._history_queries(collection, token_id)]
        try:
            results = rpc_batch(self.w3, calls)
        except RpcError as exc:
            if exc.method != "eth_getLogs" or not range_refused(exc.message):
                raise
            return [(self.twin_report(c, t), self.history(c, t, start=start)) for c, t in items]
        step = 4 if recent else 1
        raw = [log for i in range(len(items)) for found in results[i * step + 1 : (i + 1) * step] for log in found]
        times = self.block_times(raw)
        return [
            (
                decode_report(results[i * step]),
                self._chain_logs([log for found in results[i * step + 1 : (i + 1) * step] for log in found], times),
            )
            for i in range(len(items))
        ]


class ChainReader(LogReads):
    """Reads only, with no signer: what a verifier that trusts nothing but an RPC endpoint needs."""

    def __init__(self, w3: Web3, registry_address: str, *, from_block: int = 0, log_span: int = 1_000) -> None:
        self.w3 = w3
        self._registry = Web3.to_checksum_address(registry_address)
        self.from_block = from_block
        self.log_span = log_span

    @property
    def registry_address(self) -> str:
        return self._registry

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)
