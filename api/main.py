"""The FastAPI application. `create_app()` starts the runtime (embedded stack by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors
from api.routes import (
    assets,
    brands,
    claims,
    events,
    health,
    jobs,
    minting,
    ownership,
    partners,
    provenance,
    providers,
    twins,
    verify,
    webhooks,
)
from registry.runtime import Runtime
from registry.settings import Settings

MAX_BODY = 64 * 1024 * 1024  # JSON/CSV requests: 50,000 twins fit well inside


class BodyLimit:
    """Refuses a declared body length over the limit before a byte of it is read or spooled.

    Plain ASGI (not BaseHTTPMiddleware), so the hot verify path pays one header lookup.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT"):
            declared = dict(scope["headers"]).get(b"content-length", b"")
            runtime = getattr(scope["app"].state, "runtime", None)
            if declared.isdigit() and runtime is not None:
                extra = 1024 * 1024
                limit = runtime.settings.max_asset_bytes + extra if scope["path"] == "/v1/assets" else MAX_BODY
                if int(declared) > limit:
                    request = Request(scope)
                    detail = f"request body of {int(declared)} bytes exceeds the {limit}-byte limit"
                    response = errors.problem(413, "payload-too-large", "Payload too large", detail, request)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _with_body_schemas(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Registers the schemas of bodies a route reads itself (JSON or CSV) in the OpenAPI components,
    so the `$ref`s their `openapi_extra` declares resolve."""

    def build() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
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

    app.add_middleware(BodyLimit)

    # The public verify route is the hot path: matched first (Starlette tries routes in order).
    routers = (verify, health, brands, assets, minting, jobs, twins, claims, ownership, providers, provenance)
    for module in (*routers, partners, webhooks, events):
        app.include_router(module.router)
    _with_body_schemas(app, minting.BODY_MODELS)
    return app
