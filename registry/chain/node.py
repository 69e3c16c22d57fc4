"""The connection to the EVM node: the one place where retries and timeouts are configured, and the
head watcher every answer's `as_of_block` comes from."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from web3 import HTTPProvider, Web3
from web3._utils.batching import sort_batch_response_by_response_ids
from web3.types import RPCEndpoint, RPCResponse

from registry.errors import ChainUnavailable
from registry.metrics import record

log = logging.getLogger(__name__)

# Transport failures worth another try; JSON-RPC errors (reverts, refusals) are answers, not failures.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.HTTPError, ConnectionError, TimeoutError)


class NodeProvider(HTTPProvider):
    """web3's HTTP provider with the one retry policy of the service: transport failures, timeouts,
    HTTP 5xx and 429 are tried again (429 after its `Retry-After`, capped; others with exponential
    backoff), other HTTP errors are not. A call that still fails surfaces as `ChainUnavailable`, so
    callers never wrap calls in retries of their own."""

    def __init__(
        self, url: str, *, timeout: float = 30.0, retries: int = 5, backoff: float = 0.1, max_wait: float = 10.0
    ) -> None:
        super().__init__(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        for attempt in range(self.retries):
            last = attempt == self.retries - 1
            try:
                response: bytes = self._request_session_manager.make_post_request(
                    self.endpoint_uri,  # type: ignore[arg-type]  # always set: the URL is required here
                    request_data,
                    **self.get_request_kwargs(),
                )
                return response
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if last or not (status >= 500 or status in (408, 429)):
                    raise
                wait = _retry_after(exc.response) if status == 429 else None
                delay = wait if wait is not None else self.backoff * 2**attempt
            except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError):
                if last:
                    raise
                delay = self.backoff * 2**attempt
            log.debug("%s: retrying in %.2f s", method, delay)
            time.sleep(min(delay, self.max_wait))
        raise AssertionError("unreachable")

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        started = time.perf_counter()
        try:
            response = super().make_request(method, params)
        except _TRANSIENT as exc:
            record.rpc(method, time.perf_counter() - started, "transport")
            # The exception's text names the URL, which for hosted nodes holds the API key: keep its class only.
            raise ChainUnavailable(f"chain node unreachable ({method}: {type(exc).__name__})") from None
        record.rpc(method, time.perf_counter() - started, "rpc" if "error" in response else None)
        return response

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        """A JSON-RPC batch through the same retry policy (web3's own batch path bypasses it)."""
        started = time.perf_counter()
        try:
            raw = self._make_request(RPCEndpoint("batch"), self.encode_batch_rpc_request(batch_requests))
        except _TRANSIENT as exc:
            record.rpc("batch", time.perf_counter() - started, "transport")
            raise ChainUnavailable(f"chain node unreachable (batch: {type(exc).__name__})") from None
        record.rpc("batch", time.perf_counter() - started)
        response = self.decode_rpc_response(raw)
        if not isinstance(response, list):
            return response  # the node refused the batch as a whole
        return sort_batch_response_by_response_ids(response)


def _retry_after(response: Any) -> float | None:
    """Seconds from a `Retry-After` header (seconds form); None when absent or a date."""
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


_RANGE_REFUSED = ("range", "too many", "limit", "exceed", "size", "more than")


def range_refused(message: str) -> bool:
    """Whether a JSON-RPC error refuses an `eth_getLogs` for its span or result count (hosted
    providers word it differently: "block range too large", "query returned more than 10000 results",
    "Log response size exceeded", ...)."""
    return any(word in message.lower() for word in _RANGE_REFUSED)


def connect(url: str, *, timeout: float = 30.0) -> Web3:
    return Web3(NodeProvider(url, timeout=timeout))


def rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    """A raw JSON-RPC call through the configured provider (same retries); JSON-RPC errors raise
    `RpcError` with the node's message, so callers can tell a refused query from an outage."""
    response = w3.provider.make_request(RPCEndpoint(method), params)
    if "error" in response:
        error = response["error"]
        message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
        raise RpcError(method, message)
    return response["result"]


BATCH_SIZE = 50  # hosted endpoints cap batches (10 to 1,000 calls); 50 passes most


def rpc_batch(w3: Web3, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """The results of `calls`, sent as JSON-RPC batches of at most `BATCH_SIZE` (one round trip each);
    an endpoint that refuses batches gets them one by one. A call's JSON-RPC error raises `RpcError`."""
    results: list[Any] = []
    for i in range(0, len(calls), BATCH_SIZE):
        chunk = calls[i : i + BATCH_SIZE]
        answers = w3.provider.make_batch_request([(RPCEndpoint(m), p) for m, p in chunk])  # type: ignore[attr-defined]
        if not isinstance(answers, list):
            results += [rpc(w3, method, params) for method, params in chunk]
            continue
        if len(answers) != len(chunk):  # a proxy that drops or merges calls: an answer we cannot trust
            raise ChainUnavailable(f"the node answered {len(answers)} of {len(chunk)} batched calls")
        for (method, _), answer in zip(chunk, answers, strict=True):
            if "error" in answer:
                error = answer["error"]
                raise RpcError(method, str(error.get("message", error)) if isinstance(error, dict) else str(error))
            results.append(answer["result"])
    return results


def block_times(w3: Web3, logs: list[dict[str, Any]]) -> dict[str, int]:
    """Unix time of each log's block, by block hash: from the logs' `blockTimestamp` where the node
    gives it (Anvil, recent Geth and Reth), else from the blocks' headers in one batch. A block no
    longer on the chain (reorganised away) is left out."""
    times: dict[str, int] = {}
    for log_ in logs:
        if log_.get("blockTimestamp") is not None:
            times[log_["blockHash"]] = int(log_["blockTimestamp"], 16)
    missing = sorted({log_["blockHash"] for log_ in logs} - times.keys())
    headers = rpc_batch(w3, [("eth_getBlockByHash", [h, False]) for h in missing])
    for block_hash, header in zip(missing, headers, strict=True):
        if header is not None:
            times[block_hash] = int(header["timestamp"], 16)
    return times


class RpcError(ChainUnavailable):
    """The node answered a JSON-RPC error (e.g. a refused log range)."""

    def __init__(self, method: str, message: str) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.message = message


class HeadWatcher:
    """Keeps the chain head's block number fresh in the background (answers carry it)."""

    def __init__(self, w3: Web3, interval: float = 0.2) -> None:
        self.w3 = w3
        self.interval = interval
        self.block = int(w3.eth.block_number)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="head-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                latest = int(self.w3.eth.block_number)
            except Exception as exc:  # keep the last known head; readiness reports the node
                log.debug("head watcher: %s", exc)
                continue
            self.block = latest  # the node decides, also when a reorganisation shortens the chain

    def observe(self, block: int) -> None:
        """A block this process saw mined: answers never lag behind the service's own writes."""
        self.block = max(self.block, block)

    def stop(self) -> None:
        self._stop.set()
