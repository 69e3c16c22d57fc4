"""A tap's verdict carried to the page after the tap was checked (POST/redirect/GET for a GET): the tap
URL is checked once (its counter taken), then the browser is sent to the page with this signed, short-
lived ticket, so reloading the page or switching its language shows the same verdict instead of
replaying the tap (which would then, rightly, be "not fresh").

A ticket is bound to the browser that made the tap: its MAC covers the twin, the tap time and a hash of
that browser's `tm_sid` cookie. Otherwise a counterfeiter could tap the real tag once and write the
ticket's URL onto a cheap clone, whose every buyer would then see "genuine and fresh"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time

from pydantic import ValidationError

from registry.pages.schemas import TapRefusal, TapView

# A first-party, per-browser id (HttpOnly, SameSite=Lax). Generic on purpose: other features may key a
# browser's session on it. Never logged: it is what a ticket is bound to.
COOKIE = "tm_sid"
# On https the cookie is `__Host-tm_sid`: browsers accept that name only Secure, from the host itself,
# with Path=/ and no Domain, so a sibling subdomain or a network attacker on plain http (a shop's
# Wi-Fi) cannot plant a counterfeiter's id in a buyer's browser and show them the counterfeiter's ticket.
HOST_COOKIE = "__Host-" + COOKIE


def cookie_name(secure: bool) -> str:
    """The browser id's cookie name: `__Host-` prefixed when the service is served over https."""
    return HOST_COOKIE if secure else COOKIE


_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{22,128}")  # base64url of at least 16 random bytes
_MAX_TICKET = 2048


_IDS_AT_ONCE = 256
_ids: list[bytes] = []
_ids_pid = 0
_ids_lock = threading.Lock()


def new_browser_id() -> str:
    """256 random bits, base64url. The bytes come from the OS in runs of 256 ids: one `getrandom` call
    per id was a tenth of a cookieless page view's time here. Refilled in a forked child (never the
    parent's ids twice)."""
    global _ids_pid
    with _ids_lock:
        if not _ids or _ids_pid != os.getpid():
            raw = secrets.token_bytes(32 * _IDS_AT_ONCE)
            _ids[:] = [raw[i : i + 32] for i in range(0, len(raw), 32)]
            _ids_pid = os.getpid()
        return base64.urlsafe_b64encode(_ids.pop()).rstrip(b"=").decode()


def browser_id(cookie: str | None) -> str | None:
    """The browser's id from its cookie, if it has a well-formed one (anything else is replaced)."""
    return cookie if cookie and _BROWSER_ID.fullmatch(cookie) else None


def _mac(server_key: str, browser: str, body: bytes) -> bytes:
    key = hashlib.sha256(b"twinmark:tap-ticket:" + server_key.encode()).digest()  # a key of its own
    bound = hashlib.sha256(b"twinmark:tap-browser:" + browser.encode()).digest()  # fixed length: unambiguous
    return hmac.new(key, bound + body, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    server_key: str, contract: str, token_id: int, tap: TapView, browser: str, *, now: float | None = None
) -> str:
    """A ticket for `tap`, made now, readable only with the `browser` id it was made for."""
    tapped = tap.model_copy(update={"tapped_at": int(now if now is not None else time.time())})
    body = json.dumps(
        {"c": contract.lower(), "t": token_id, "tap": tapped.model_dump()}, separators=(",", ":")
    ).encode()
    return f"{_b64(body)}.{_b64(_mac(server_key, browser, body))}"


def read(
    server_key: str,
    ticket: str,
    contract: str,
    token_id: int,
    browser: str | None,
    *,
    lifetime: float,
    now: float | None = None,
) -> TapView | TapRefusal | None:
    """The verdict a ticket carries, when this service signed it for this twin and this browser less
    than `lifetime` seconds ago. "other-browser": a ticket for this twin whose MAC does not hold for
    this browser (made for another, or forged: either way no verdict); "expired": this browser's, but
    too old. None: not a ticket for this twin's page at all."""
    if len(ticket) > _MAX_TICKET or ticket.count(".") != 1:
        return None
    body_text, mac_text = ticket.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
        claims = json.loads(body)
        if claims["c"] != contract.lower() or claims["t"] != token_id:
            return None
    except (ValueError, KeyError, TypeError, RecursionError):  # parsed before the MAC: any client's bytes
        return None
    if browser is None or not hmac.compare_digest(mac, _mac(server_key, browser, body)):
        return "other-browser"
    try:
        tap = TapView.model_validate(claims["tap"])
    except (KeyError, ValidationError):
        return None
    if tap.tapped_at is None or (now if now is not None else time.time()) - tap.tapped_at > lifetime:
        return "expired"
    return tap
