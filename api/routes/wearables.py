"""Wearables for game platforms: a collection as Decentraland linked wearables (v2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ChainDep, SessionDep
from api.routes.common import checksum
from registry.twins.linked import linked_wearables
from registry.wearables.dcl import ContractNetwork
from registry.wearables.schemas import LinkedWearables

router = APIRouter(tags=["wearables"])


@router.get("/v1/collections/{contract}/linked-wearables", response_model=LinkedWearables)
def collection_linked_wearables(
    contract: str,
    chain: ChainDep,
    s: SessionDep,
    network: Annotated[
        ContractNetwork | None,
        Query(description="Decentraland network name, for a chain Decentraland does not list (a test chain)"),
    ] = None,
) -> LinkedWearables:
    """The collection's virtual twins as a Decentraland linked-wearables v2 mapping document
    (`mappings`: network -> contract -> `single`/`range` token mappings, @dcl/schemas `Mappings`).
    Public: which tokens a collection holds is public on chain."""
    return linked_wearables(s, checksum(contract), chain.chain_id, network)
