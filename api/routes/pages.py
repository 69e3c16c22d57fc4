"""The verification page: `/t/{contract}/{token_id}` as HTML for browsers (English or Simplified
Chinese), a redirect to the twin's JSON record for every other client."""

from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool

from api import scans
from api.deps import public_rpc_url, session
from api.routes.common import TokenId, checksum
from registry.alerts.caution import Caution, board_for
from registry.consent.texts import partial_context
from registry.nfc.taps import TapResult, check_tap
from registry.pages import tickets
from registry.pages.cache import PageCache, Rendered
from registry.pages.catalog import NAMES, texts_for
from registry.pages.locale import LANGUAGES, app_language, negotiate, parse_accept_language
from registry.pages.schemas import LanguageLink, PageModel, TapRefusal, TapView
from registry.pages.service import SCRIPT_TEXTS, build, caution_view, script_json
from registry.privileges.eligibility import carried
from registry.privileges.rules import REASONS
from registry.runtime import Runtime

router = APIRouter(include_in_schema=False)

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=True,  # every value is escaped; only the pre-escaped script JSON is marked safe
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # the template ships with the code: no stat() of its file on every render
)
PAGE = TEMPLATES.get_template("page.html")  # compiled at import, not by the first buyer's request
MY_ITEMS = TEMPLATES.get_template("my_items.html")
# What "My items" says from its script (api/static/owner.js): the door's texts, the privileges' own.
_MY_TEXTS = (
    *SCRIPT_TEXTS,
    "my_redeem",
    "my_redeem_label",
    "my_redeemed",
    "my_receipt",
    "my_code",
    "my_ongoing",
    "my_not_available",
    "privileges.kind.redeem_once",
    "privileges.kind.ongoing",
    "privileges.kind.code",
    *(f"my_reason.{r}" for r in (*REASONS, "already-redeemed", "not-in-scope")),
)

# The page runs only its own scripts; it may fetch from any RPC URL and gateway the reader types in.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
    "connect-src *; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _quality(accept: str, *types: str) -> float:
    """The best `q` the Accept header gives any of `types` (exact media types only: a wildcard is
    not a request for HTML)."""
    return max((q for media, q in parse_accept_language(accept) if media.lower() in types), default=0.0)


def wants_html(accept: str) -> bool:
    """Browsers name text/html; API clients (`*/*`, application/json) get the JSON record."""
    html = _quality(accept, "text/html", "application/xhtml+xml")
    return html > 0 and html >= _quality(accept, "application/json", "application/ld+json")


# Pure functions of client strings, on every request: remembered (bounded) rather than re-parsed.
_wants_html = lru_cache(maxsize=1024)(wants_html)
_negotiate = lru_cache(maxsize=1024)(negotiate)
_checksum = lru_cache(maxsize=4096)(checksum)  # keccak per call; raises (uncached) on a bad address


def page_language(request: Request) -> str:
    """The language of a page for `request`: `?lang=`, WeChat's app language, `Accept-Language`."""
    app = app_language(request.headers.get("user-agent"))
    return _negotiate(request.headers.get("accept-language"), request.query_params.get("lang"), app)


# The request's transaction as routes get it (a failed database is a 503), opened only on the paths
# that read or write the database: a warm page does neither.
_session = contextmanager(session)


def _hrefs(request: Request) -> dict[str, str]:
    """Per language, the link to this same page in it (path and other query parameters kept)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {lang: f"{request.url.path}?{urlencode([*kept, ('lang', lang)])}" for lang in LANGUAGES}


def render(model: PageModel, privileges: list[dict[str, Any]] | None = None) -> str:
    """`privileges`: what the twin carries for its owner (id, name in the page's language, kind)."""
    return PAGE.render(m=model, t=model.texts, config_json=script_json(model.config), privileges=privileges or [])


# Rendered pages carry this in place of each language link (random per process: no content can hold it).
_SLOT = f"\x00{secrets.token_hex(16)}\x00"


def render_page(model: PageModel, block: int, privileges: list[dict[str, Any]] | None = None) -> Rendered:
    """The page with a slot for each language link, filled in per request (`Rendered.body`)."""
    model.languages = [
        LanguageLink(lang=lang, name=NAMES[lang], href=f"{_SLOT}{lang}{_SLOT}", current=lang == model.lang)
        for lang in LANGUAGES
    ]
    return Rendered.split(render(model, privileges), _SLOT, block=block, status=200 if model.found else 404)


def _pages_of(request: Request) -> PageCache:
    """The app's page cache (one per app: tests run several apps, over several chains, in one process)."""
    state = request.app.state
    with _PAGES_LOCK:
        if not hasattr(state, "page_cache"):
            state.page_cache = PageCache()
        return state.page_cache  # type: ignore[no-any-return]


_PAGES_LOCK = threading.Lock()


def _page(
    rt: Runtime,
    pages: PageCache,
    contract: str,
    token_id: int,
    lang: str,
    rpc_url: str,
    tap: TapView | TapRefusal | None,
    caution: Caution | None,
) -> Rendered:
    """A page rendered afresh (the verifier's verdict, the indexed service history, the template), kept
    when it holds for every browser until the head moves: a passing verdict, no tap verdict and no
    caution (an alert is raised and resolved off chain: a kept page would outlive either)."""
    verdict = rt.verifier.verify(contract, token_id)
    with _session(rt) as s:
        model = build(
            verdict=verdict,
            session=s,
            chain=rt.chain,
            lang=lang,
            gateway_base=rt.settings.gateway_base,
            rpc_url=rpc_url,
            log_span=rt.settings.log_span,
            tap=tap if isinstance(tap, TapView) else None,
            tap_refusal=None if isinstance(tap, TapView) else tap,
        )
        privileges = [
            {"id": p.id, "kind": p.kind, "name": p.name_zh if lang == "zh-CN" else p.name_en}
            for p in carried(s, contract, token_id, int(time.time()))
        ]
    model.caution = caution_view(caution, lang)
    page = render_page(model, verdict.as_of_block, privileges)
    if verdict.authentic and tap is None and caution is None:
        pages.put(contract, token_id, lang, page)
    return page


def page_response(request: Request, page: Rendered, lang: str) -> Response:
    """The page's answer: its body with this request's language links, and its headers."""
    headers = {
        "Content-Security-Policy": CSP,
        "Content-Language": lang,
        "Vary": "Accept, Accept-Language, User-Agent",  # WeChat names its language there
        "Cache-Control": "no-cache",  # owner and status change; always revalidated
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if "tap" in request.query_params:  # a tap's verdict is this browser's (its cookie): no cache keeps it
        headers |= {"Cache-Control": "no-store, private", "Vary": "Accept, Accept-Language, User-Agent, Cookie"}
    return HTMLResponse(page.body(_hrefs(request)), status_code=page.status, headers=headers)


def _remember_browser(response: Response, browser: str, secure: bool) -> None:
    """The browser's id cookie: first-party, out of scripts' reach, sent on top-level navigations from
    elsewhere (a tag's URL opened by the phone) but not on cross-site subrequests."""
    response.set_cookie(tickets.cookie_name(secure), browser, path="/", httponly=True, secure=secure, samesite="lax")


_TAP_PARAMS = frozenset({"picc_data", "enc", "cmac", "rnd", "rndsig"})  # what `check_tap` looks for


async def _tap_in(request: Request, rt: Runtime, contract: str, token_id: int) -> TapResult | None:
    """The verdict on the tap the query carries (its counter taken), None without one (no database)."""
    params = dict(request.query_params)
    if _TAP_PARAMS.isdisjoint(params):
        return None

    def check() -> TapResult | None:
        with _session(rt) as s:
            return check_tap(s, rt.server_key, contract, token_id, params)

    return await run_in_threadpool(check)


@router.get("/t/{contract}/{token_id}")
async def twin_page(contract: str, token_id: TokenId, request: Request) -> Response:
    """HTML for browsers; any other client is sent to the twin's JSON record (303).

    A coroutine without dependencies: a warm page (kept for this head block) is answered on the event
    loop without the database; anything else goes to the thread pool, as a plain route would."""
    rt: Runtime = request.app.state.runtime
    address = _checksum(contract)
    if not _wants_html(request.headers.get("accept", "")):
        return RedirectResponse(f"/v1/twins/{address}/{token_id}", status_code=303, headers={"Vary": "Accept"})
    # An NFC tag's tap lands here with its parameters (picc_data/cmac, or rnd/rndsig): checked once (its
    # counter taken), then the browser is sent to the page with the verdict in a signed ticket, so a
    # reload or a language switch shows that verdict rather than replaying the tap. The ticket is bound
    # to this browser's cookie and lives about a minute: a ticket URL copied onto a cloned tag shows
    # its buyers no verdict.
    https = rt.settings.base_url.startswith("https://")
    browser = tickets.browser_id(request.cookies.get(tickets.cookie_name(https)))
    result = scans.observe(request, address, token_id, await _tap_in(request, rt, address, token_id))
    if result is not None:
        view = TapView(
            kind=result.kind, genuine=result.genuine, fresh=result.fresh, counter=result.counter, detail=result.detail
        )
        known = browser is not None
        browser = browser or tickets.new_browser_id()
        kept = [("lang", request.query_params["lang"])] if "lang" in request.query_params else []
        query = urlencode([("tap", tickets.issue(rt.server_key, address, token_id, view, browser)), *kept])
        response = RedirectResponse(
            f"/t/{address}/{token_id}?{query}", status_code=303, headers={"Cache-Control": "no-store"}
        )
        if not known:
            _remember_browser(response, browser, https)
        return response
    ticket = request.query_params.get("tap")
    lifetime = rt.settings.tap_ticket_seconds
    tap = tickets.read(rt.server_key, ticket, address, token_id, browser, lifetime=lifetime) if ticket else None
    lang = page_language(request)
    # An open public caution is looked up per request (the process's copy: no query when fresh); a
    # cautioned twin's page is rendered each time, so resolving the alert shows at once.
    board = board_for(rt.engine)
    if not board.fresh():  # at most once every few seconds: off the event loop
        await run_in_threadpool(board.refresh)
    caution = board.peek(address, token_id)
    pages = _pages_of(request)
    page = pages.get(address, token_id, lang, rt.head.block) if tap is None and caution is None else None
    if page is None:
        rpc_url = await public_rpc_url(rt)
        page = await run_in_threadpool(_page, rt, pages, address, token_id, lang, rpc_url, tap, caution)
    return page_response(request, page, lang)


@router.get("/owners/me")
def my_items(request: Request) -> Response:
    """ "My items": the signed-in passkey owner's twins, their privileges, and the consent block (one,
    with a chooser of the owner's brands: the script fills in the brand). The page is the same for
    everyone (the lists are fetched by its scripts with the session the browser holds), so nothing
    here reads a session."""
    lang = page_language(request)
    texts = texts_for(lang)
    hrefs = _hrefs(request)
    body = MY_ITEMS.render(
        lang=lang,
        t=texts,
        languages=[
            LanguageLink(lang=code, name=NAMES[code], href=hrefs[code], current=code == lang) for code in LANGUAGES
        ],
        config_json=script_json({"lang": lang, "texts": {key: texts[key] for key in _MY_TEXTS}}),
        # No brand yet: its name stays a `{brand}` placeholder the script replaces once one is chosen.
        **partial_context(lang, "", "{brand}"),
    )
    headers = {
        "Content-Security-Policy": CSP,
        "Content-Language": lang,
        "Vary": "Accept-Language, User-Agent",
        "Cache-Control": "no-cache",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(body, headers=headers)
