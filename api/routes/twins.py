"""Twins as the registry indexes them: by contract and token, by GS1 identifiers; content updates.
GS1 Digital Links are resolved by `api.routes.resolver`."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import BrandDep, ChainDep, SessionDep, SettingsDep, StoreDep
from api.routes.common import TokenId, checksum, pending_answer, relayed
from registry.pinning.service import durability_for
from registry.twins.schemas import TwinIn, TwinList, TwinOut, TwinUpdated
from registry.twins.service import find_twins, get_twin, twin_contents, twin_view, updated_view
from registry.twins.updates import update_content

router = APIRouter(tags=["twins"])


@router.get("/v1/twins/{contract}/{token_id}", response_model=TwinOut)
def read_twin(contract: str, token_id: TokenId, settings: SettingsDep, chain: ChainDep, s: SessionDep) -> TwinOut:
    """The registry's record of a twin, with its live owner and status from the chain."""
    twin = get_twin(s, checksum(contract), token_id)
    view = twin_view(twin, settings.gateway_base, chain)
    view.durability = durability_for(s, twin_contents(twin), settings)
    return view


@router.get("/v1/twins", response_model=TwinList)
def search_twins(settings: SettingsDep, s: SessionDep, gtin: str, serial: str | None = None) -> TwinList:
    """Twins by GTIN (8 to 14 digits, check digit verified) and optionally serial."""
    return TwinList(twins=[twin_view(t, settings.gateway_base) for t in find_twins(s, gtin, serial)])


@router.put(
    "/v1/twins/{contract}/{token_id}/metadata", response_model=TwinUpdated, responses=pending_answer(TwinUpdated)
)
def replace_metadata(
    contract: str,
    token_id: TokenId,
    content: TwinIn,
    brand: BrandDep,
    response: Response,
    settings: SettingsDep,
    chain: ChainDep,
    store: StoreDep,
    s: SessionDep,
) -> TwinUpdated:
    """Replaces a twin's content after repair or re-authentication; the old anchor stays in the history.
    200 once mined; 202 while pending (the record shows the new content once the update is mined)."""
    address = checksum(contract)
    twin, tx_hash, state = update_content(s, chain, store, settings, brand, address, token_id, content)
    relayed(response, state)
    return updated_view(twin, settings.gateway_base, tx_hash, state)
