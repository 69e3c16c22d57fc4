"""The node reads the domains need beside the contracts' functions, as typed methods: the head and
block hashes, raw logs of a block range, block times, twins' reports pinned to one block (batched),
and gas-capped calls of code a caller chose (SIWE's contract wallets).

`TwinmarkChain` and `ChainReader` both have them (through `LogReads`), so a domain reaches JSON-RPC
only here: `registry.chain.node` and `registry.chain.sender` stay private to the chain package and
the composition root (`scripts/check_layers.py` enforces it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from registry.chain.node import RpcError, block_times, range_refused, rpc, rpc_batch
from registry.chain.report import TwinReport, call_data, decode_report
from registry.errors import ChainUnavailable

RawLog = dict[str, Any]
"""An `eth_getLogs` entry as the node gives it (hex text), for the indexer's hot path and `logs.decode`."""

Reports = dict[tuple[str, int], TwinReport]


@dataclass(frozen=True)
class BlockRef:
    """A block by number and hash: what "the head" or "the last indexed block" is."""

    number: int
    hash: str


class LogRangeRefused(Exception):
    """The node refused an `eth_getLogs` for its span or its number of results: ask a smaller range.
    Not `ChainUnavailable`: the node answered, and the caller decides how to split."""


class NodeReads:
    """Mixed into `LogReads` (so into `TwinmarkChain` and `ChainReader`, which set `w3`)."""

    w3: Web3

    @property
    def registry_address(self) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ blocks

    def head(self) -> BlockRef:
        """The node's latest block."""
        block = rpc(self.w3, "eth_getBlockByNumber", ["latest", False])
        if block is None:
            raise ChainUnavailable("the node did not return its head block")
        return BlockRef(int(block["number"], 16), str(block["hash"]))

    def block_hash_at(self, number: int) -> str | None:
        """The hash of the chain's block at `number`; None past the head."""
        block = rpc(self.w3, "eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"])

    def block_times(self, logs: list[dict[str, Any]]) -> dict[str, int]:
        """Unix time of each log's block, by block hash (a mapping with just `blockHash` will do): from
        `blockTimestamp` where the node gives it, else the headers in one batch. A block no longer on
        the chain is left out."""
        return block_times(self.w3, logs)

    # ------------------------------------------------------------ logs

    def range_logs(self, start: int, end: int, address: str | list[str]) -> list[RawLog]:
        """Every log of `address` (one contract or several) in blocks `start`..`end`, one `eth_getLogs`;
        `LogRangeRefused` when the node will not serve that range whole."""
        query = {"fromBlock": hex(start), "toBlock": hex(end), "address": address}
        try:
            found: list[RawLog] = rpc(self.w3, "eth_getLogs", [query])
        except RpcError as exc:
            if range_refused(exc.message):
                raise LogRangeRefused(exc.message) from None
            raise
        return found

    # ------------------------------------------------------------ reports

    def reports_at(self, pairs: Sequence[tuple[str, int]], block: BlockRef) -> Reports | None:
        """Each (collection, token)'s `twinReport` at `block`, with that block read again by number in
        the same batch (batches of `node.BATCH_SIZE` calls, so a hosted endpoint's cap is respected).
        None when the chain's block at that height is no longer `block` (a reorganisation meanwhile):
        the reports may be of another chain."""
        number = hex(block.number)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{"to": self.registry_address, "data": call_data(c, t)}, number]) for c, t in pairs
        ]
        calls.append(("eth_getBlockByNumber", [number, False]))
        answers = rpc_batch(self.w3, calls)
        again = answers[-1]
        if again is None or again["hash"] != block.hash:
            return None
        return {pair: decode_report(result) for pair, result in zip(pairs, answers[:-1], strict=True)}

    # ------------------------------------------------------------ code a caller chose

    def code_at(self, address: str) -> bytes:
        """The code at `address` at the head (empty for an account without code)."""
        return bytes.fromhex(str(rpc(self.w3, "eth_getCode", [address, "latest"]))[2:])

    def capped_call(self, to: str | None, data: bytes, *, gas: int) -> bytes | None:
        """An `eth_call` at the head of code someone else chose (`to` None: creation code), given at
        most `gas`: without a cap, the node's own (30M on Anvil, 50M on geth) is what a looping wallet
        burns per request. Its return data, or None when the node answers a JSON-RPC error for it
        (revert, invalid opcode, out of gas, stack overflow...): the code failing is an answer. An
        unreachable node still raises `ChainUnavailable`."""
        tx = {"data": "0x" + data.hex(), "gas": hex(gas)} | ({"to": to} if to else {})
        try:
            return bytes.fromhex(str(rpc(self.w3, "eth_call", [tx, "latest"]))[2:])
        except RpcError:
            return None
