"""Liveness and readiness."""

from __future__ import annotations

import time

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
    # Seconds since each background loop's last heartbeat, in whichever process runs it (None: none yet).
    loops: dict[str, float | None] = {}
    holders: dict[str, str] = {}  # the process (host:pid) running each loop


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


# The whole runtime on purpose: readiness reads every part it owns (chain, store, database) and the
# heartbeats of the loops it runs, and how long it has been up.
@router.get("/readyz")
def readyz(rt: RuntimeDep) -> Readiness:
    """Readiness: chain node, content store and database all reachable, and every background loop
    (mint worker, indexer, webhook sender: in this process or another) beat within
    `loop_stale_seconds` (after this process has been up that long: loops may still be starting)."""
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
        beats = rt.heartbeats()
    except TwinmarkError:
        raise
    except Exception as exc:
        raise DatabaseUnavailable(f"database: {type(exc).__name__}") from exc
    limit = rt.settings.loop_stale_seconds
    loops = {name: None if age is None else round(age, 1) for name, (age, _) in beats.items()}
    holders = {name: process for name, (_, process) in beats.items() if process is not None}
    stale = sorted(name for name, age in loops.items() if age is None or age > limit)
    if stale and time.monotonic() - rt.started > limit:
        raise LoopStale(
            f"background loop(s) without a heartbeat in {limit:g} s: {', '.join(stale)}", loops=loops, holders=holders
        )
    return Readiness(status="ready", checks=checks, loops=loops, holders=holders)


class LoopStale(TwinmarkError):
    code, status, title = "not-ready", 503, "A background loop is stuck or not running"
