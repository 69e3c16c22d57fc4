"""Chain conditions: a node behind `ChainConditions` (tests/support/chain_conditions.py), for the
harness's own tests, and a whole service stack running through it with a hosted provider's manners."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from registry.chain.anvil import Anvil
from registry.runtime import Runtime
from registry.settings import Settings
from tests.api.conftest import Stack, stack_settings
from tests.support.chain_conditions import ChainConditions, Conditions


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    """A fresh Anvil per module (its mining mode and chain are changed by the tests)."""
    anvil = Anvil()
    anvil.start()
    yield anvil
    anvil.stop()


@pytest.fixture
def conditions(node: Anvil) -> Iterator[ChainConditions]:
    """A proxy in front of `node`, imposing nothing until a test says so; the node automines again after."""
    with ChainConditions(node.url, path="/v2/test-key", seed=1234) as proxy:
        yield proxy
        proxy.automine()


# ---------------------------------------------------------------- a service stack through the harness

# What a hosted provider on a live chain looks like (the bar: spans capped at 1,000 blocks,
# 60 ms per call, about 1 % transient failures, 1 s blocks): Alchemy/Infura-like log caps, a few 5xx,
# rarer 429s (half with Retry-After) and connections that hang for 2 s and close without an answer.
HOSTED = Conditions(
    max_log_span=1000,
    max_log_results=10_000,
    latency_s=0.06,
    fail_rate=0.01,
    rate_limit=0.005,
    retry_after_s=1,
    timeout_rate=0.002,
    hang_s=2.0,
    log_timestamps=False,  # block times from headers, as on nodes that do not put them in logs
)
LONG_CHAIN = 3000  # blocks mined before the service starts, so that queries from block 0 hit the span cap


class Receiver:
    """A webhook receiver on loopback that takes everything (204) and keeps it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ErrorLog(logging.Handler):
    """Keeps the service's ERROR records (a background pass that failed, with its exception)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        cause = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        self.records.append(f"{record.threadName}: {record.getMessage()}{cause}")


@dataclass
class Hosted:
    """The service stack (SQLite, local block store, mint worker, indexer and webhook sender in
    process) whose only way to the chain is `conditions`' proxy URL."""

    conditions: ChainConditions
    anvil: Anvil
    settings: Settings
    receiver: Receiver
    errors: ErrorLog
    stack: Stack
    _scope: ExitStack

    @property
    def runtime(self) -> Runtime:
        return self.stack.runtime

    @property
    def client(self) -> TestClient:
        return self.stack.client

    def restart(self, **start: Any) -> None:
        """Stops the service (not the chain) and starts it again over the same data, e.g. as `twinmark
        rebuild` does (`with_worker=False, with_indexer=False`)."""
        self.close()
        self._scope = ExitStack()
        self.stack = _start(self._scope, self.settings, self.anvil, **start)

    def close(self) -> None:
        self._scope.close()


def _start(scope: ExitStack, settings: Settings, anvil: Anvil, **start: Any) -> Stack:
    runtime = Runtime.start(settings, **start)
    scope.callback(runtime.stop)
    client = scope.enter_context(TestClient(create_app(runtime=runtime)))
    return Stack(client, runtime, anvil)


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    anvil = Anvil()
    anvil.start()
    with ExitStack() as outer:
        outer.callback(anvil.stop)
        conditions = outer.enter_context(ChainConditions(anvil.url, path="/v2/hosted-e2e-key", seed=20_260_511))
        conditions.mine(LONG_CHAIN)
        conditions.configure(HOSTED)
        conditions.interval_mining(1)
        receiver = Receiver()
        outer.callback(receiver.stop)
        errors = ErrorLog()
        logging.getLogger("registry").addHandler(errors)
        outer.callback(logging.getLogger("registry").removeHandler, errors)
        settings = stack_settings(
            tmp_path_factory.mktemp("hosted"),
            anvil,
            chain_rpc_url=conditions.url,
            indexer_in_process=True,
            worker_in_process=True,
            indexer_poll_seconds=0.2,
            chunk_size=4,
            webhook_allow_private_targets=True,  # the receiver listens on loopback
            webhook_backoff_seconds=0.2,
            webhook_timeout_seconds=2.0,
        )
        scope = ExitStack()
        try:
            stack = _start(scope, settings, anvil)
        except BaseException:
            scope.close()
            raise
        hosted = Hosted(conditions, anvil, settings, receiver, errors, stack, scope)
        outer.callback(hosted.close)
        yield hosted
