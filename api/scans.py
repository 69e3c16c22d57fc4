"""The HTTP side of the scan log: one call per route hands what the request shows to the recorder
(`registry.scans.recorder`), and a small ASGI middleware gives QR and page visits the first-party
browser cookie (`tm_sid`, the one tap tickets are bound to) so one buyer's re-scans form one session.

Nothing here can fail or slow an answer: an event is built from the request in microseconds and
queued without waiting; any error while building it is logged (once) and the scan is skipped."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from fastapi import Request, Response
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.server import client_key, trusted_networks
from registry.errors import TwinmarkError
from registry.nfc.taps import TapResult
from registry.pages import tickets
from registry.pages.locale import negotiate
from registry.resolver.path import parse_path
from registry.runtime import Runtime
from registry.scans import events, privacy
from registry.scans.recorder import ScanEvent

log = logging.getLogger(__name__)
_warned = False

# /t/0x.../123 and /v1/verify/0x.../123 and /v1/twins/0x.../123/passport in a resolver's Location
_TWIN_PATHS = ("/t/", "/v1/verify/", "/v1/twins/")


@lru_cache(maxsize=4)
def session_key_for(server_key: str) -> bytes:
    return privacy.session_key(server_key)


@lru_cache(maxsize=1024)
def _language(accept: str | None, explicit: str | None) -> str:
    return negotiate(accept, explicit)


def is_https(rt: Runtime) -> bool:
    return rt.settings.base_url.startswith("https://")


def _event(request: Request, rt: Runtime, channel: str, **fields: Any) -> ScanEvent:
    """The coarse facts every scan has: the client's network (truncated first: the full address goes
    no further than this line), session, agent class, language and the chain head."""
    net = privacy.network(client_key(request.scope, trusted_networks(rt.settings.trusted_proxies)))
    cookie = tickets.browser_id(request.cookies.get(tickets.cookie_name(is_https(rt))))
    accept = request.headers.get("accept-language")
    explicit = request.query_params.get("lang") if channel in ("page", "tap") else None
    language = _language(accept, explicit) if accept or explicit else None
    return ScanEvent(
        channel=channel,
        network=net,
        session=privacy.session(session_key_for(rt.server_key), cookie),
        agent=privacy.agent(request.headers.get("user-agent")),
        language=language,
        block_number=rt.head.block,
        **fields,
    )


def _submit(request: Request, channel: str, **fields: Any) -> None:
    global _warned
    try:
        rt: Runtime = request.app.state.runtime
        if rt.scans.enabled:
            rt.scans.submit(_event(request, rt, channel, **fields))
    except Exception:
        if not _warned:
            _warned = True
            log.exception("scan log: a scan could not be recorded (logged once)")


def record(request: Request, channel: str, contract: str | None, token_id: int | None) -> None:
    """A verification (or any scan of a named twin without more to say)."""
    _submit(request, channel, contract=contract, token_id=token_id)


def observe(request: Request, contract: str, token_id: int, tap: TapResult | None) -> TapResult | None:
    """A page view, or the tap a page or tap URL carried (`tap`: its verdict); returns `tap`, so the
    route's call wraps the tap check it already makes."""
    query = request.query_params
    if tap is None:
        if request.url.path.startswith("/t/"):
            via = events.VIA_COOKIE in request.cookies
            _submit(request, "page", contract=contract, token_id=token_id, arrival=events.arrival(query, via))
        return tap
    _submit(
        request,
        "tap",
        contract=contract,
        token_id=token_id,
        arrival="nfc" if request.url.path.startswith("/t/") else None,
        tag_kind=tap.kind,
        tag_id=tap.tag_id,
        counter=tap.counter,
        valid=tap.genuine,
        evidence=events.tap_evidence(query, tap),
    )
    return tap


def resolved(request: Request, answer: Response) -> Response:
    """A resolver hit: the twin from the redirect's target, else (a linkset, a 404) from the Digital Link."""
    if request.method != "GET":
        return answer
    contract, token_id, gtin, serial = None, None, None, None
    location = answer.headers.get("location", "")
    for prefix in _TWIN_PATHS:
        at = location.find(prefix)
        if at >= 0:
            parts = location[at + len(prefix) :].split("?", 1)[0].split("/")
            if len(parts) >= 2 and parts[1].isdigit():
                contract, token_id = parts[0], int(parts[1])
            break
    if contract is None:
        try:
            dl = parse_path(request.scope.get("raw_path", b"").decode("latin-1") or request.url.path)
            gtin, serial = dl.gtin, dl.serial
        except TwinmarkError:  # not a Digital Link: recorded without a twin
            gtin, serial = None, None
    tapped = any(k in request.query_params for k in ("picc_data", "cmac", "rnd", "rndsig"))
    _submit(
        request,
        "resolver",
        contract=contract,
        token_id=token_id,
        gtin=gtin,
        serial=serial,
        arrival="nfc" if tapped else "qr",
    )
    return answer


_PLAIN = re.compile(r"[A-Za-z0-9_-]+")  # a browser id, a flag: written unquoted
_VALUE = "v4lue"  # a stand-in Starlette writes as is (no quoting), replaced by the real value


@lru_cache(maxsize=16)
def _cookie_form(name: str, secure: bool, max_age: int | None) -> tuple[bytes, bytes]:
    """The `Set-Cookie` value before and after the cookie's value, as Starlette writes it (made once)."""
    response = Response()
    response.set_cookie(name, _VALUE, max_age=max_age, path="/", httponly=True, secure=secure, samesite="lax")
    value = next(v for k, v in response.raw_headers if k == b"set-cookie")
    before, after = value.split(f"={_VALUE}".encode(), 1)
    return before + b"=", after


def _set_cookie(name: str, value: str, secure: bool, max_age: int | None = None) -> bytes:
    """A `Set-Cookie` value as the page's own cookie is set (Starlette's, same attributes)."""
    if not _PLAIN.fullmatch(value):  # one Starlette would quote (an empty one, to delete): its own way
        response = Response()
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, secure=secure, samesite="lax")
        return next(v for k, v in response.raw_headers if k == b"set-cookie")
    before, after = _cookie_form(name, secure, max_age)
    return before + value.encode("latin-1") + after


class ScanCookies:
    """Gives a browser arriving at a Digital Link or a page without a (well-formed) browser id one,
    in the request (so the route, and a tap ticket, see it) and in the answer's `Set-Cookie`; marks a
    resolver's redirect to a page (`tm_via`, a minute) so that page view counts as a QR arrival."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        resolver, page = path.startswith("/01/"), path.startswith("/t/")
        rt: Runtime | None = getattr(scope["app"].state, "runtime", None) if (resolver or page) else None
        if rt is None or not rt.scans.enabled or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        secure = is_https(rt)
        name = tickets.cookie_name(secure)
        headers = list(scope["headers"])
        raw = b"; ".join(v for k, v in headers if k == b"cookie").decode("latin-1")
        jar = cookie_parser(raw)
        cookies: list[tuple[str, bytes]] = []
        if tickets.browser_id(jar.get(name)) is None:
            browser = tickets.new_browser_id()
            merged = f"{raw}; {name}={browser}" if raw else f"{name}={browser}"
            headers = [(k, v) for k, v in headers if k != b"cookie"] + [(b"cookie", merged.encode("latin-1"))]
            scope = dict(scope, headers=headers)
            cookies.append((name, _set_cookie(name, browser, secure)))
        if page and events.VIA_COOKIE in jar:
            cookies.append((events.VIA_COOKIE, _set_cookie(events.VIA_COOKIE, "", secure, max_age=0)))

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                given = [v for k, v in out if k == b"set-cookie"]
                extra = [c for n, c in cookies if not any(v.startswith(n.encode() + b"=") for v in given)]
                if resolver and message["status"] in (301, 302, 303, 307, 308):
                    location = next((v for k, v in out if k == b"location"), b"")
                    if b"/t/" in location:
                        extra.append(_set_cookie(events.VIA_COOKIE, "1", secure, max_age=60))
                out += [(b"set-cookie", c) for c in extra]
                message = dict(message, headers=out)
            await send(message)

        await self.app(scope, receive, send_with_cookies)
