"""Claims: the buyer proves the secret shipped with the item; the service relays and pays."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from web3 import Web3

from api.deps import ChainDep, SessionDep
from api.routes.common import TokenId, checksum, client_address, pending_answer, relayed
from registry.claims import service as claims
from registry.claims.schemas import ClaimIn, ClaimOut
from registry.provenance import service as provenance

router = APIRouter(tags=["claims"])


@router.post("/v1/twins/{contract}/{token_id}/claim", response_model=ClaimOut, responses=pending_answer(ClaimOut))
def claim_twin(
    contract: str,
    token_id: TokenId,
    body: ClaimIn,
    request: Request,
    response: Response,
    chain: ChainDep,
    s: SessionDep,
) -> ClaimOut:
    """The buyer claims the twin with the secret shipped with the item; the service relays and pays.
    200 once mined; 202 while pending (asking again for the same recipient follows the same transaction).
    Asked again once mined, for the same recipient who still owns the twin: the same 200 (same
    `tx_hash`) with `Idempotent-Replayed: true`; for another recipient: 409 `already-claimed`."""
    result = claims.claim(
        s,
        chain,
        contract=checksum(contract),
        token_id=token_id,
        secret=body.secret,
        recipient=Web3.to_checksum_address(body.recipient),
        client=client_address(request),
        history=lambda c, t: provenance.history(s, chain, c, t).logs,
    )
    relayed(response, result.state)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ClaimOut(
        contract=result.contract,
        token_id=result.token_id,
        owner=result.owner,
        tx_hash=result.tx_hash,
        state=result.state,
    )
