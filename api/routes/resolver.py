"""The GS1-Conformant resolver (GS1-Conformant Resolver 1.2): `/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]`
and the resolver description file. Decisions live in `registry.resolver`; this module speaks HTTP:
307 redirects with the query string passed on, linksets, problems, HEAD, OPTIONS and CORS."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import scans
from api.deps import SettingsDep, session
from api.errors import problem
from registry.errors import DatabaseUnavailable, TwinmarkError
from registry.resolver import links
from registry.resolver.path import parse_path
from registry.resolver.schemas import Linkset, ResolverDescription, description
from registry.resolver.service import resolve
from registry.runtime import Runtime

router = APIRouter(tags=["resolver"])
_session = contextmanager(session)  # the request's transaction as routes get it (a failed database: a 503)

METHODS = "GET, HEAD, OPTIONS"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Type",
    "Access-Control-Expose-Headers": "Link, Location, Content-Type, Vary",
    "Access-Control-Max-Age": "86400",
}


def _passed_on(raw_query: str) -> str:
    """The query string without `linkType`, byte for byte as sent (NFC tap parameters such as
    `picc_data` and `cmac` must reach the page exactly)."""
    kept = [p for p in raw_query.split("&") if p and unquote_plus(p.split("=", 1)[0]) != "linkType"]
    return "&".join(kept)


def _link_type(raw_query: str) -> str | None:
    for pair in raw_query.split("&"):
        name, _, value = pair.partition("=")
        if unquote_plus(name) == "linkType":
            return unquote_plus(value)
    return None


def _answer(base_url: str, session: Session, request: Request) -> Response:
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    dl = parse_path(raw_path)
    entries = resolve(session, base_url, dl)
    entry = entries[0]
    decision = links.decide(entry, _link_type(raw_query), request.headers.get("accept"))
    headers = CORS | {"Vary": "Accept", "Link": links.link_header(entry)}
    if decision.action == "linkset":
        headers["Link"] += (
            f', <{links.LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        )
        body = json.dumps(links.linkset(entries), ensure_ascii=False).encode()
        return Response(body, media_type=links.LINKSET_TYPE, headers=headers)
    if decision.action == "not-found":
        answer = problem(404, "not-found", "Not found", decision.detail, request)
        answer.headers.update(headers)
        return answer
    assert decision.link is not None
    _redirects_of(request).put(_redirect_key(request, raw_path, raw_query), (decision.link.href, headers))
    return _redirect(decision.link.href, headers, raw_query)


def _redirect(href: str, headers: dict[str, str], raw_query: str) -> Response:
    query = _passed_on(raw_query)
    location = href + (("&" if "?" in href else "?") + query if query else "")
    return Response(status_code=307, headers=headers | {"Location": location})


class _Redirects:
    """Where a Digital Link was sent (the target before the query string, and the headers), by path,
    link type and Accept: a label scanned again is answered on the event loop, without the database.
    Only redirects are kept (a twin's GTIN, serial and lot never change), and for a minute at most:
    an unknown serial is asked again every time (it may be minted), and a twin a reorganisation
    removed is not sent to for long."""

    def __init__(self, size: int = 50_000, ttl: float = 60.0) -> None:
        self.size, self.ttl = size, ttl
        self._kept: OrderedDict[tuple[str, str | None, str], tuple[float, str, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str | None, str]) -> tuple[str, dict[str, str]] | None:
        with self._lock:
            found = self._kept.get(key)
        if found is None or time.monotonic() - found[0] > self.ttl:
            return None
        return found[1], found[2]

    def put(self, key: tuple[str, str | None, str], value: tuple[str, dict[str, str]]) -> None:
        with self._lock:
            self._kept[key] = (time.monotonic(), *value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


def _redirects_of(request: Request) -> _Redirects:
    """The app's redirects (one per app: tests run several apps, over several databases, in one process)."""
    state = request.app.state
    with _REDIRECTS_LOCK:
        if not hasattr(state, "resolver_redirects"):
            state.resolver_redirects = _Redirects()
        return state.resolver_redirects  # type: ignore[no-any-return]


_REDIRECTS_LOCK = threading.Lock()


def _redirect_key(request: Request, raw_path: str, raw_query: str) -> tuple[str, str | None, str]:
    return raw_path, _link_type(raw_query), request.headers.get("accept") or ""


def _resolved(rt: Runtime, request: Request) -> Response:
    """The answer from the database (in the thread pool), as a problem when it is not a redirect."""
    try:
        with _session(rt) as s:
            return _answer(rt.settings.base_url, s, request)
    except DatabaseUnavailable:
        raise  # the app's answer to an outage (503, Retry-After, logged once), as for any route
    except TwinmarkError as exc:
        answer = problem(exc.status, exc.code, exc.title, exc.detail, request, **exc.extra)
        answer.headers.update(CORS)
        return answer


@router.head("/01/{identifier:path}", include_in_schema=False)
@router.get(
    "/01/{identifier:path}",
    response_class=Response,
    responses={
        200: {
            "model": Linkset,
            "description": "the linkset (`linkType=linkset`, or `Accept: application/linkset+json`)",
            "content": {links.LINKSET_TYPE: {"schema": {"$ref": "#/components/schemas/Linkset"}}},
        },
        307: {"description": "redirect to the requested link, or to the default one; the query string is passed on"},
        400: {"description": "not a syntactically valid GS1 Digital Link (problem+json)"},
        404: {"description": "no twin for this identifier, or no link of the requested type (problem+json)"},
    },
)
async def resolve_digital_link(identifier: str, request: Request) -> Response:
    """GS1 Digital Link resolver. `linkType`: `gs1:pip` (verification page, the default),
    `gs1:certificationInfo` (verdict), `gs1:dpp` (passport), `linkset` / `all` (RFC 9264 linkset).
    Without it, `Accept` decides: HTML -> gs1:pip, JSON -> gs1:certificationInfo.

    A coroutine without dependencies: a label resolved in the last minute is answered on the event
    loop; anything else takes one trip to the thread pool (a sync route with a session dependency
    took three)."""
    rt: Runtime = request.app.state.runtime
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    kept = _redirects_of(request).get(_redirect_key(request, raw_path, raw_query))
    if kept is not None:
        answer = _redirect(*kept, raw_query)
    else:
        answer = await run_in_threadpool(_resolved, rt, request)
    if request.method == "HEAD":
        return Response(status_code=answer.status_code, headers=dict(answer.headers))  # GET's headers, no body
    return scans.resolved(request, answer)


@router.options("/01/{identifier:path}", status_code=204, response_class=Response)
def digital_link_options(identifier: str) -> Response:
    """The methods a Digital Link answers, for CORS pre-flight requests too."""
    return Response(status_code=204, headers=CORS | {"Allow": METHODS})


@router.get("/.well-known/gs1resolver", response_model=ResolverDescription)
def resolver_description(settings: SettingsDep, response: Response) -> ResolverDescription:
    """The resolver description file (GS1-Conformant Resolver 1.2)."""
    response.headers.update(CORS)
    return description(settings.base_url)
