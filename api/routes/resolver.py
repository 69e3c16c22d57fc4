"""The GS1-Conformant resolver (GS1-Conformant Resolver 1.2): `/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]`
and the resolver description file. Decisions live in `registry.resolver`; this module speaks HTTP:
307 redirects with the query string passed on, linksets, problems, HEAD, OPTIONS and CORS."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request, Response
from sqlmodel import Session

from api import scans
from api.deps import SessionDep, SettingsDep
from api.errors import problem
from registry.errors import TwinmarkError
from registry.resolver import links
from registry.resolver.path import parse_path
from registry.resolver.schemas import Linkset, ResolverDescription, description
from registry.resolver.service import resolve

router = APIRouter(tags=["resolver"])

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
    query = _passed_on(raw_query)
    location = decision.link.href + (("&" if "?" in decision.link.href else "?") + query if query else "")
    return Response(status_code=307, headers=headers | {"Location": location})


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
def resolve_digital_link(identifier: str, request: Request, settings: SettingsDep, s: SessionDep) -> Response:
    """GS1 Digital Link resolver. `linkType`: `gs1:pip` (verification page, the default),
    `gs1:certificationInfo` (verdict), `gs1:dpp` (passport), `linkset` / `all` (RFC 9264 linkset).
    Without it, `Accept` decides: HTML -> gs1:pip, JSON -> gs1:certificationInfo."""
    try:
        answer = _answer(settings.base_url, s, request)
    except TwinmarkError as exc:
        answer = problem(exc.status, exc.code, exc.title, exc.detail, request, **exc.extra)
        answer.headers.update(CORS)
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
