"""The verification page: `/t/{contract}/{token_id}` as HTML for browsers (English or Simplified
Chinese), a redirect to the twin's JSON record for every other client."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session

from api import scans
from api.deps import ChainDep, PublicRpcUrlDep, ServerKeyDep, SessionDep, SettingsDep, VerifierDep
from api.routes.common import TokenId, checksum
from registry.alerts.caution import board_for
from registry.chain.client import TwinmarkChain
from registry.nfc.taps import check_tap
from registry.pages import tickets
from registry.pages.catalog import NAMES
from registry.pages.locale import LANGUAGES, negotiate, parse_accept_language
from registry.pages.schemas import LanguageLink, PageModel, TapRefusal, TapView
from registry.pages.service import build, caution_view, script_json
from registry.settings import Settings
from registry.verify.schemas import VerificationOut

router = APIRouter(include_in_schema=False)

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=True,  # every value is escaped; only the pre-escaped script JSON is marked safe
    trim_blocks=True,
    lstrip_blocks=True,
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


def _languages(request: Request, current: str) -> list[LanguageLink]:
    """One link per language to this same page (path and other query parameters kept)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [
        LanguageLink(
            lang=lang,
            name=NAMES[lang],
            href=f"{request.url.path}?{urlencode([*kept, ('lang', lang)])}",
            current=lang == current,
        )
        for lang in LANGUAGES
    ]


def render(model: PageModel) -> str:
    return TEMPLATES.get_template("page.html").render(m=model, t=model.texts, config_json=script_json(model.config))


def page_response(
    request: Request,
    verdict: VerificationOut,
    s: Session,
    chain: TwinmarkChain,
    settings: Settings,
    rpc_url: str,
    tap: TapView | TapRefusal | None = None,
) -> Response:
    """The page of one twin from its verdict (also for routes that land on it, such as NFC taps, with
    their `tap` verdict, or why their ticket shows none). `rpc_url`: what the page's script reads the
    chain through (none: the reader types one into the re-check panel)."""
    lang = negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))
    model = build(
        verdict=verdict,
        session=s,
        chain=chain,
        lang=lang,
        gateway_base=settings.gateway_base,
        rpc_url=rpc_url,
        log_span=settings.log_span,
        tap=tap if isinstance(tap, TapView) else None,
        tap_refusal=None if isinstance(tap, TapView) else tap,
    )
    model.languages = _languages(request, lang)
    caution = board_for(request.app.state.runtime.engine).get(verdict.contract, verdict.token_id)  # no query when warm
    model.caution = caution_view(caution, lang)
    headers = {
        "Content-Security-Policy": CSP,
        "Content-Language": lang,
        "Vary": "Accept, Accept-Language",
        "Cache-Control": "no-cache",  # owner and status change; always revalidated
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if "tap" in request.query_params:  # a tap's verdict is this browser's (its cookie): no cache keeps it
        headers |= {"Cache-Control": "no-store, private", "Vary": "Accept, Accept-Language, Cookie"}
    return HTMLResponse(render(model), status_code=200 if model.found else 404, headers=headers)


def _remember_browser(response: Response, browser: str, secure: bool) -> None:
    """The browser's id cookie: first-party, out of scripts' reach, sent on top-level navigations from
    elsewhere (a tag's URL opened by the phone) but not on cross-site subrequests."""
    response.set_cookie(tickets.cookie_name(secure), browser, path="/", httponly=True, secure=secure, samesite="lax")


@router.get("/t/{contract}/{token_id}")
def twin_page(
    contract: str,
    token_id: TokenId,
    request: Request,
    settings: SettingsDep,
    chain: ChainDep,
    verifier: VerifierDep,
    server_key: ServerKeyDep,
    rpc_url: PublicRpcUrlDep,
    s: SessionDep,
) -> Response:
    """HTML for browsers; any other client is sent to the twin's JSON record (303)."""
    address = checksum(contract)
    if not wants_html(request.headers.get("accept", "")):
        return RedirectResponse(f"/v1/twins/{address}/{token_id}", status_code=303, headers={"Vary": "Accept"})
    # An NFC tag's tap lands here with its parameters (picc_data/cmac, or rnd/rndsig): checked once (its
    # counter taken), then the browser is sent to the page with the verdict in a signed ticket, so a
    # reload or a language switch shows that verdict rather than replaying the tap. The ticket is bound
    # to this browser's cookie and lives about a minute: a ticket URL copied onto a cloned tag shows
    # its buyers no verdict.
    https = settings.base_url.startswith("https://")
    browser = tickets.browser_id(request.cookies.get(tickets.cookie_name(https)))
    result = scans.observe(
        request, address, token_id, check_tap(s, server_key, address, token_id, dict(request.query_params))
    )
    if result is not None:
        view = TapView(
            kind=result.kind, genuine=result.genuine, fresh=result.fresh, counter=result.counter, detail=result.detail
        )
        known = browser is not None
        browser = browser or tickets.new_browser_id()
        kept = [("lang", request.query_params["lang"])] if "lang" in request.query_params else []
        query = urlencode([("tap", tickets.issue(server_key, address, token_id, view, browser)), *kept])
        response = RedirectResponse(
            f"/t/{address}/{token_id}?{query}", status_code=303, headers={"Cache-Control": "no-store"}
        )
        if not known:
            _remember_browser(response, browser, https)
        return response
    ticket = request.query_params.get("tap")
    lifetime = settings.tap_ticket_seconds
    tap = tickets.read(server_key, ticket, address, token_id, browser, lifetime=lifetime) if ticket else None
    verdict = verifier.verify(address, token_id)
    return page_response(request, verdict, s, chain, settings, rpc_url, tap)
