"""A tap's verdict carried to the page after the tap was checked (POST/redirect/GET for a GET): the tap
URL is checked once (its counter taken), then the browser is sent to the page with this signed, short-
lived ticket, so reloading the page or switching its language shows the same verdict instead of
replaying the tap (which would then, rightly, be "not fresh")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from pydantic import ValidationError

from registry.pages.schemas import TapView

TTL_SECONDS = 600


def _mac(server_key: str, body: bytes) -> bytes:
    key = hashlib.sha256(b"twinmark:tap-ticket:" + server_key.encode()).digest()  # a key of its own
    return hmac.new(key, body, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(server_key: str, contract: str, token_id: int, tap: TapView, *, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + TTL_SECONDS)
    body = json.dumps(
        {"c": contract.lower(), "t": token_id, "exp": expires, "tap": tap.model_dump()}, separators=(",", ":")
    ).encode()
    return f"{_b64(body)}.{_b64(_mac(server_key, body))}"


def read(server_key: str, ticket: str, contract: str, token_id: int, *, now: float | None = None) -> TapView | None:
    """The verdict a ticket carries, if this service signed it for this twin and it has not expired."""
    if len(ticket) > 2048 or ticket.count(".") != 1:
        return None
    body_text, mac_text = ticket.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except ValueError:
        return None
    if not hmac.compare_digest(mac, _mac(server_key, body)):
        return None
    try:
        claims = json.loads(body)
        if claims["c"] != contract.lower() or claims["t"] != token_id:
            return None
        if claims["exp"] < (now if now is not None else time.time()):
            return None
        return TapView.model_validate(claims["tap"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return None
