"""An app served by a real uvicorn on loopback, for tests that need real HTTP (chunked bodies, streams)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from api.server import uvicorn_config
from registry.chain.anvil import free_port
from registry.settings import Settings


@contextmanager
def serve(app: ASGIApp, port: int | None = None, settings: Settings | None = None) -> Iterator[str]:
    """The base URL of `app` running in a thread (on `port`, or a free one); stopped on exit. With
    `settings`, the server `twinmark serve` runs (`api.server.uvicorn_config`: no proxy headers of its
    own, its caps and deadlines), else plain uvicorn."""
    port = port or free_port()
    if settings is not None:
        config = uvicorn_config(app, settings, host="127.0.0.1", port=port)
    else:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
