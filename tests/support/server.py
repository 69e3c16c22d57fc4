"""An app served by a real uvicorn on loopback, for tests that need real HTTP (chunked bodies, streams)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from registry.chain.anvil import free_port


@contextmanager
def serve(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """The base URL of `app` running in a thread (on `port`, or a free one); stopped on exit."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
