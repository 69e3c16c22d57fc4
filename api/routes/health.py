"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import RuntimeDep
from registry.errors import ChainUnavailable, DatabaseUnavailable, TwinmarkError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
    loops: dict[str, float] = {}  # seconds since each background loop of this process last showed life


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz")
def readyz(rt: RuntimeDep) -> Readiness:
    """Readiness: chain node, content store and database all reachable."""
    checks: dict[str, str] = {}
    try:
        checks["chain"] = f"block {rt.chain.block_number()}"
    except Exception as exc:
        raise ChainUnavailable(f"chain: {exc}") from exc
    try:
        rt.store.ping()
        checks["ipfs"] = "ok"
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except TwinmarkError:
        raise
    except Exception as exc:
        raise DatabaseUnavailable(f"database: {type(exc).__name__}") from exc
    loops = {name: round(age, 1) for name, age in rt.loops().items()}
    stale = sorted(name for name, age in loops.items() if age > rt.settings.loop_stale_seconds)
    if stale:
        raise LoopStale(f"background loop(s) without a sign of life: {', '.join(stale)}", loops=loops)
    return Readiness(status="ready", checks=checks, loops=loops)


class LoopStale(TwinmarkError):
    code, status, title = "not-ready", 503, "A background loop is stuck"
