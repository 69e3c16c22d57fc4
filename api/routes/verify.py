from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["verify"])


@router.get("/v1/verify/{contract}/{token_id}")
def verify(contract: str, token_id: int, request: Request) -> dict[str, Any]:
    """Public: `authentic` plus every check (collection, token, issuer standing, metadata, assets, status)."""
    return request.app.state.verifier.verify(contract, token_id)  # type: ignore[no-any-return]
