"""The FastAPI application. `create_app()` starts the runtime (embedded stack by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routes import assets, brands, health, jobs, lifecycle, minting, twins, verify, webhooks
from registry.runtime import Runtime
from registry.settings import Settings
from registry.verify.service import Verifier


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """An app over `runtime`, or over a runtime started from `settings` for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.start(settings or Settings())
        app.state.runtime = rt
        app.state.verifier = Verifier(rt.chain, rt.store, rt.head)
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
    # The public verify route is the hot path: matched first (Starlette tries routes in order).
    for module in (verify, health, brands, assets, minting, jobs, twins, lifecycle, webhooks):
        app.include_router(module.router)
    return app
