"""A JSON-RPC proxy in front of a node, for tests that need a hosted endpoint's behaviour: its URL
carries an API key in the path (as hosted providers' do), and it can be told to fail."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class RpcProxy:
    """Forwards POSTs on `/v2/<key>` to `upstream`. `mode`: `forward`, `error` (HTTP 500 whose body
    echoes the request path, as careless gateways do) or `drop` (connection closed, no answer)."""

    def __init__(self, upstream: str, key: str) -> None:
        self.upstream = upstream
        self.key = key
        self.mode = "forward"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != f"/v2/{proxy.key}":
                    self.send_response(401)
                    self.end_headers()
                    return
                if proxy.mode == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if proxy.mode == "error":
                    self._answer(500, f"upstream failure for {self.path}".encode())
                    return
                answer = httpx.post(proxy.upstream, content=body, headers={"content-type": "application/json"})
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v2/{self.key}"

    def __enter__(self) -> RpcProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
