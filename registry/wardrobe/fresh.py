"""Ownership re-checked at the chain head in one JSON-RPC batch: the head block, one `twinReport`
call per item, and the head again. Both head reads agreeing proves every call saw that block; when a
block landed during the batch (rare), the calls are sent again pinned to the later block."""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint

from registry.chain.node import RpcError, rpc_batch
from registry.chain.report import TwinReport, call_data, decode_report
from registry.errors import ChainUnavailable


def _one_batch(w3: Web3, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """All `calls` in one JSON-RPC batch (at most a page of 100 items plus two: one round trip, not
    `rpc_batch`'s chunks of 50); a node that refuses batches gets them through `rpc_batch`'s fallback."""
    answers = w3.provider.make_batch_request([(RPCEndpoint(m), p) for m, p in calls])  # type: ignore[attr-defined]
    if not isinstance(answers, list):
        return rpc_batch(w3, calls)
    if len(answers) != len(calls):
        raise ChainUnavailable(f"the node answered {len(answers)} of {len(calls)} batched calls")
    results = []
    for (method, _), answer in zip(calls, answers, strict=True):
        if "error" in answer:
            error = answer["error"]
            raise RpcError(method, str(error.get("message", error)) if isinstance(error, dict) else str(error))
        results.append(answer["result"])
    return results


def at_head(
    w3: Web3, registry: str, pairs: list[tuple[str, int]]
) -> tuple[int, str, dict[tuple[str, int], TwinReport]]:
    """(head number, head hash, each twin's report at that block)."""
    block: str = "latest"
    for _ in range(3):
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [block, False])]
        calls += [("eth_call", [{"to": registry, "data": call_data(c, t)}, block]) for c, t in pairs]
        calls.append(("eth_getBlockByNumber", [block, False]))
        answers = _one_batch(w3, calls)
        first, last = answers[0], answers[-1]
        if first is not None and last is not None and first["hash"] == last["hash"]:
            reports = {pair: decode_report(result) for pair, result in zip(pairs, answers[1:-1], strict=True)}
            return int(first["number"], 16), str(first["hash"]), reports
        if last is None:
            raise ChainUnavailable("the node did not return its head block")
        block = last["number"]  # a block landed mid-batch: ask again at that one
    raise ChainUnavailable("the chain head kept moving during the ownership re-check")
