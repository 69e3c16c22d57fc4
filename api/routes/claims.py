"""Claims: the buyer proves the secret shipped with the item; the service relays and pays."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response
from web3 import Web3

from api.deps import RuntimeDep, SessionDep
from api.routes.common import TokenId, checksum, client_address, pending_answer, relayed
from registry.claims import service as claims
from registry.claims.schemas import ClaimIn, ClaimOut

router = APIRouter(tags=["claims"])


@router.post("/v1/twins/{contract}/{token_id}/claim", response_model=ClaimOut, responses=pending_answer(ClaimOut))
def claim_twin(
    contract: str,
    token_id: TokenId,
    body: ClaimIn,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    s: SessionDep,
) -> ClaimOut:
    """The buyer claims the twin with the secret shipped with the item; the service relays and pays.
    200 once mined; 202 while pending (asking again for the same recipient follows the same transaction)."""
    result = claims.claim(
        s,
        rt.chain,
        contract=checksum(contract),
        token_id=token_id,
        secret=body.secret,
        recipient=Web3.to_checksum_address(body.recipient),
        client=client_address(request),
    )
    relayed(response, result.state)
    return ClaimOut(**asdict(result))
