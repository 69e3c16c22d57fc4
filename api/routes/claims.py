"""Claims: the buyer proves the secret shipped with the item; the service relays and pays."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from web3 import Web3

from api.deps import RuntimeDep, SessionDep
from api.routes.common import TokenId, checksum, client_address
from registry.claims import service as claims
from registry.claims.schemas import ClaimIn, ClaimOut

router = APIRouter(tags=["claims"])


@router.post("/v1/twins/{contract}/{token_id}/claim")
def claim_twin(
    contract: str, token_id: TokenId, body: ClaimIn, request: Request, rt: RuntimeDep, s: SessionDep
) -> ClaimOut:
    """The buyer claims the twin with the secret shipped with the item; the service relays and pays."""
    result = claims.claim(
        s,
        rt.chain,
        contract=checksum(contract),
        token_id=token_id,
        secret=body.secret,
        recipient=Web3.to_checksum_address(body.recipient),
        client=client_address(request),
    )
    return ClaimOut(**asdict(result))
