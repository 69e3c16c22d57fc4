"""A twin's provenance: its timeline from chain events."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RuntimeDep
from api.routes.common import TokenId, checksum
from registry.errors import NotFound
from registry.provenance.schemas import ProvenanceOut
from registry.provenance.service import timeline

router = APIRouter(tags=["provenance"])


@router.get("/v1/twins/{contract}/{token_id}/provenance", response_model=ProvenanceOut)
def provenance(contract: str, token_id: TokenId, rt: RuntimeDep) -> ProvenanceOut:
    """The twin's timeline from chain events, oldest first."""
    address = checksum(contract)
    events = timeline(rt.chain, address, token_id)
    if not events:
        raise NotFound(f"no events for twin {token_id} of {address}")
    return ProvenanceOut.model_validate({"contract": address, "token_id": token_id, "events": events})
