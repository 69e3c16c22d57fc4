"""The HTTP side of the operator's instruments: requests counted and timed by route template (never
the raw path: one series per route, whatever clients send), `/metrics` for Prometheus, and the
FastAPI tracing middleware when traces are on (registry/metrics/tracing.py).

`/metrics` answers only a scraper presenting `TWINMARK_METRICS_TOKEN` as a bearer token (Prometheus:
`authorization: {credentials: ...}`), and is not there (404) while no token is set: the counts are the
brand's volumes (mints, scans, verifications), not something to publish. A token rather than an
address allow-list, because behind a reverse proxy every request comes from the proxy's address."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.errors import NotFound, Unauthenticated
from registry.metrics import exposition, tracing
from registry.metrics import record as metrics
from registry.settings import Settings

router = APIRouter(tags=["health"])
UNMATCHED = "none"  # the handler label of requests no route matched (the instrumentator's word)
# Any other method is "OTHER": h11 accepts any token as a method, and each would be a new series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """Pure ASGI (no per-request task or body copy): the status from the response's start, the route
    template from the scope FastAPI's router filled in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 by the server

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            handler = getattr(route, "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            metrics.http(method, handler, status, time.perf_counter() - started)


def install(app: FastAPI, settings: Settings) -> None:
    """Counts requests (metrics on) and traces them (traces on), outermost: every answer is seen.
    (`router`, with `/metrics`, is included with the other routes.)"""
    if tracing.active() or tracing.wanted():
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        tracing.install()
        FastAPIInstrumentor.instrument_app(app, excluded_urls="metrics,healthz,readyz")
    if settings.metrics_enabled:
        app.add_middleware(HttpMetrics)


@router.get("/metrics", include_in_schema=False)
def scrape(request: Request) -> Response:
    """Prometheus text format: this process's families, or every process's on this host
    (PROMETHEUS_MULTIPROC_DIR)."""
    settings: Settings = request.app.state.runtime.settings
    token = settings.metrics_token
    if token is None or not settings.metrics_enabled:
        raise NotFound("metrics are not exposed here (set TWINMARK_METRICS_TOKEN)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthenticated("metrics token required (Authorization: Bearer <TWINMARK_METRICS_TOKEN>)")
    return Response(exposition.render(), media_type=exposition.CONTENT_TYPE)
