"""Request body limits, counted on the bytes actually received (a chunked body declares no length).

Plain ASGI (not BaseHTTPMiddleware), so the hot verify path pays one dictionary lookup. A declared
`Content-Length` over the limit is refused before a byte is read; otherwise the bytes are counted as
they arrive and reading stops, with a 413, at the first byte over the limit, so neither memory nor
disk ever holds more than the limit.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors

KiB, MiB = 1024, 1024 * 1024
MAX_BATCH_BODY = 64 * MiB  # JSON/CSV batches: 50,000 twins fit well inside
DEFAULT_BODY = 1 * MiB
PUBLIC_BODY = 16 * KiB  # anonymous routes: a claim or a signed relay is a few hundred bytes

# (method, path pattern) -> limit; the first match wins. Assets: the configured asset limit + 1 MiB
# of multipart framing, filled in by the app.
_PUBLIC = re.compile(r"^/v1/twins/[^/]+/[^/]+/(claim|transfers|status)$")


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes its limit; Starlette's handler renders it (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the {limit}-byte limit")


class BodyLimit:
    def __init__(self, app: ASGIApp, *, asset_bytes: int) -> None:
        self.app = app
        self.asset_limit = asset_bytes + MiB

    def limit_for(self, method: str, path: str) -> int:
        if path in ("/v1/assets", "/console/minting/assets"):
            return self.asset_limit
        if path in ("/v1/batches", "/console/minting/batches"):
            return MAX_BATCH_BODY
        if method == "POST" and _PUBLIC.match(path):
            return PUBLIC_BODY
        return DEFAULT_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            detail = f"request body of {int(declared)} bytes exceeds the {limit}-byte limit"
            response = errors.problem(413, "payload-too-large", "Payload too large", detail, Request(scope))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
