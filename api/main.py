"""The FastAPI application. `create_app()` starts the runtime (embedded stack by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.middleware.gzip import GZipMiddleware

from api import errors, metrics
from api.console import alerts as console_alerts
from api.console import auth as console_auth
from api.console import integrations as console_integrations
from api.console import labels as console_labels
from api.console import minting as console_minting
from api.console import overview as console_overview
from api.console import owners as console_owners
from api.console import privileges as console_privileges
from api.console import security as console_security
from api.console import twins as console_twins
from api.limits import BodyLimit
from api.routes import (
    alerts,
    assets,
    brands,
    claims,
    consent,
    events,
    gateway,
    health,
    jobs,
    labels,
    minting,
    nfc,
    owners,
    ownership,
    pages,
    partners,
    passport,
    privileges,
    provenance,
    providers,
    receipts,
    resolver,
    scans,
    siwe,
    staff,
    transactions,
    twins,
    verify,
    wardrobe,
    wearables,
    webhooks,
)
from api.scans import ScanCookies
from registry.runtime import Runtime
from registry.settings import Settings


def _with_body_schemas(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Registers the schemas of bodies a route reads itself (JSON or CSV) in the OpenAPI components,
    so the `$ref`s their `openapi_extra` declares resolve."""

    def build() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            errors.document_problems(schema)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in body.pop("$defs", {}).items():
                    components.setdefault(name, sub)
                components.setdefault(model.__name__, body)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """An app over `runtime`, or over a runtime started from `settings` for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.start(settings or Settings())
        app.state.runtime = rt
        try:
            yield
        finally:
            if runtime is None:
                rt.stop()

    app = FastAPI(
        title="Twinmark",
        version="0.1.0",
        description="Digital product passports: mint and verify digital twins on an EVM chain with content on IPFS.",
        lifespan=lifespan,
    )
    errors.install(app)
    console_auth.install(app)  # console refusals: a redirect or a readable page for browsers

    # The asset limit comes from the settings the app is made with (the runtime's, or the environment).
    app.add_middleware(ScanCookies)  # the browser cookie of QR and page visits (api/scans.py)
    configured = runtime.settings if runtime else settings or Settings()
    app.add_middleware(BodyLimit, asset_bytes=configured.max_asset_bytes)
    metrics.install(app, configured)  # /metrics; requests counted and traced, outermost

    # The public verify route is the hot path: matched first (Starlette tries routes in order).
    routers = (
        verify,
        pages,  # the buyer's page: the other hot public path (its warm answer is a few tens of us)
        resolver,  # the label's GS1 Digital Link: matching past ~150 routes first cost more than its answer
        health,
        brands,
        assets,
        minting,
        jobs,
        twins,
        claims,
        ownership,
        owners,  # passkey owners (issue 23): registration, sign-in, passkey-signed relays
        providers,
        provenance,
        transactions,
        nfc,
        alerts,
    )
    routes = (
        partners,
        webhooks,
        events,
        gateway,
        passport,
        labels,
        siwe,
        wardrobe,
        wearables,
        scans,
        staff,
        consent,
        privileges,  # owners' privileges and their receipts (issue 23)
        receipts,
    )
    for module in (*routers, *routes):
        app.include_router(module.router)
    app.include_router(console_auth.router)
    app.include_router(console_security.router)
    app.include_router(console_overview.router)  # the brand console's pages (issue 22)
    app.include_router(console_twins.router)
    app.include_router(console_alerts.router)
    app.include_router(console_minting.router)
    app.include_router(console_labels.router)
    app.include_router(console_integrations.router)
    app.include_router(console_owners.router)
    app.include_router(console_privileges.router)
    # The verification page's CSS, scripts and vendored ethers: served here, never from a CDN.
    # Compressed here only: the vendored ethers is 526 KB raw, ~170 KB gzipped, on a buyer's phone; the
    # content gateway's bytes (images, GLBs, byte ranges) are never re-encoded.
    static = StaticFiles(directory=Path(__file__).resolve().parent / "static")
    app.mount("/static", GZipMiddleware(static, minimum_size=1024), name="static")
    app.include_router(metrics.router)  # /metrics, for the operator's scraper
    _with_body_schemas(app, minting.BODY_MODELS)
    return app
