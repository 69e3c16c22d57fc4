from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api import scans
from api.deps import engine_of, verifier_of
from api.routes.common import TokenId
from registry.alerts.caution import board_for
from registry.verify.schemas import VerificationOut

router = APIRouter(tags=["verify"])


@router.get(
    "/v1/verify/{contract}/{token_id}",
    response_class=Response,
    responses={200: {"model": VerificationOut, "description": "the verdict and every check"}},
)
async def verify(contract: str, token_id: TokenId, request: Request) -> Response:
    """Public: `authentic` plus every check (collection, token, issuer standing, metadata, assets, status),
    and a `caution` while an alert on the twin's scans is open.

    Answers are as of `as_of_block`; a passing answer is reused until the chain head moves (or for a
    minute), a failing one is always recomputed. The body is serialised once and served as bytes
    (the hot path), so the schema is declared rather than enforced per request. The caution is added
    to those bytes per request from the process's copy of the open cautions (read again at most every
    few seconds, see `CautionBoard`), so the cached verdict never holds a stale one.
    """
    scans.record(request, "verify", contract, token_id)
    verifier = verifier_of(request)  # not a dependency: the hot path (see `verifier_of`)
    body = verifier.cached_json(contract, token_id)  # warm path: no I/O, stays on the event loop
    if body is None:
        body = await run_in_threadpool(verifier.verify_json, contract, token_id)
    board = board_for(engine_of(request))
    if not board.fresh():  # at most once every few seconds: off the event loop
        await run_in_threadpool(board.refresh)
    caution = board.peek(contract, token_id)
    if caution is not None:
        body = body[:-1] + b',"caution":' + caution.encoded + b"}"
    return Response(body, media_type="application/json")
