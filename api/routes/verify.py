from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api import scans
from api.deps import verifier_of
from api.routes.common import TokenId
from registry.verify.schemas import VerificationOut

router = APIRouter(tags=["verify"])


@router.get(
    "/v1/verify/{contract}/{token_id}",
    response_class=Response,
    responses={200: {"model": VerificationOut, "description": "the verdict and every check"}},
)
async def verify(contract: str, token_id: TokenId, request: Request) -> Response:
    """Public: `authentic` plus every check (collection, token, issuer standing, metadata, assets, status).

    Answers are as of `as_of_block`; a passing answer is reused until the chain head moves (or for a
    minute), a failing one is always recomputed. The body is serialised once and served as bytes
    (the hot path), so the schema is declared rather than enforced per request.
    """
    scans.record(request, "verify", contract, token_id)
    verifier = verifier_of(request)  # not a dependency: the hot path (see `verifier_of`)
    body = verifier.cached_json(contract, token_id)  # warm path: no I/O, stays on the event loop
    if body is None:
        body = await run_in_threadpool(verifier.verify_json, contract, token_id)
    return Response(body, media_type="application/json")
