from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import RuntimeDep
from registry.chain.sender import retrying
from registry.errors import ChainUnavailable, TwinmarkError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(rt: RuntimeDep) -> dict[str, Any]:
    """Readiness: chain node, content store and database all reachable."""
    checks: dict[str, str] = {}
    try:
        checks["chain"] = f"block {int(retrying(lambda: rt.w3.eth.block_number, attempts=1))}"
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
        raise TwinmarkError(f"database: {exc}") from exc
    return {"status": "ready", "checks": checks}
