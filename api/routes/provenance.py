"""A twin's provenance: its timeline of chain events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import ChainDep, SessionDep, SettingsDep
from api.routes.common import TokenId, checksum, client_address
from registry.errors import NotFound
from registry.provenance.schemas import ProvenanceOut
from registry.provenance.service import Source, chain_read_quota, history, timeline

router = APIRouter(tags=["provenance"])


@router.get("/v1/twins/{contract}/{token_id}/provenance", response_model=ProvenanceOut)
def provenance(
    contract: str,
    token_id: TokenId,
    request: Request,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
    source: Annotated[Source, Query(description="index (default) or chain: read every event from the chain")] = "index",
) -> ProvenanceOut:
    """The twin's timeline from chain events, oldest first: from the index and the blocks it has not
    reached yet, or from the chain alone."""
    address = checksum(contract)
    if source == "chain":
        chain_read_quota(s, settings, client_address(request))
    found = history(s, chain, address, token_id, source)
    events = timeline(found.logs)
    if not events:
        raise NotFound(f"no events for twin {token_id} of {address}")
    return ProvenanceOut(
        contract=address,
        token_id=token_id,
        events=events,
        source=found.source,
        as_of_block=found.as_of_block,
        indexed_to_block=found.indexed_to,
        indexed_block_hash=found.indexed_hash,
    )
