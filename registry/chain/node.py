"""The connection to the EVM node: the one place where retries and timeouts are configured, and the
head watcher every answer's `as_of_block` comes from."""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from web3 import HTTPProvider, Web3
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse

from registry.errors import ChainUnavailable

log = logging.getLogger(__name__)

# Transport failures worth another try; JSON-RPC errors (reverts, refusals) are answers, not failures.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.HTTPError, ConnectionError, TimeoutError)


class NodeProvider(HTTPProvider):
    """web3's HTTP provider with retries (exponential backoff) configured once, here; a call that still
    fails surfaces as `ChainUnavailable`, so callers never wrap calls in retries of their own."""

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 5, backoff: float = 0.1) -> None:
        super().__init__(
            url,
            request_kwargs={"timeout": timeout},
            exception_retry_configuration=ExceptionRetryConfiguration(
                errors=_TRANSIENT, retries=retries, backoff_factor=backoff
            ),
        )

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return super().make_request(method, params)
        except _TRANSIENT as exc:
            # The exception's text names the URL, which for hosted nodes holds the API key: keep its class only.
            raise ChainUnavailable(f"chain node unreachable ({method}: {type(exc).__name__})") from None


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
