"""Twins as the registry indexes them: by contract and token, by GS1 identifiers; content updates."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from api.deps import BrandDep, RuntimeDep, SessionDep
from api.routes.common import TokenId, checksum
from registry.twins.schemas import TwinIn, TwinList, TwinOut, TwinUpdated
from registry.twins.service import find_twins, get_twin, twin_view
from registry.twins.updates import update_content

router = APIRouter(tags=["twins"])


@router.get("/v1/twins/{contract}/{token_id}", response_model=TwinOut)
def read_twin(contract: str, token_id: TokenId, rt: RuntimeDep, s: SessionDep) -> TwinOut:
    """The registry's record of a twin, with its live owner and status from the chain."""
    return TwinOut.model_validate(twin_view(get_twin(s, checksum(contract), token_id), rt.chain))


@router.get("/v1/twins", response_model=TwinList)
def search_twins(s: SessionDep, gtin: str, serial: str | None = None) -> TwinList:
    """Twins by GTIN (8 to 14 digits, check digit verified) and optionally serial."""
    return TwinList.model_validate({"twins": [twin_view(t) for t in find_twins(s, gtin, serial)]})


@router.put("/v1/twins/{contract}/{token_id}/metadata", response_model=TwinUpdated)
def replace_metadata(
    contract: str, token_id: TokenId, content: TwinIn, brand: BrandDep, rt: RuntimeDep, s: SessionDep
) -> TwinUpdated:
    """Replaces a twin's content after repair or re-authentication; the old anchor stays in the history."""
    twin, tx_hash = update_content(s, rt.chain, rt.store, rt.settings, brand, checksum(contract), token_id, content)
    return TwinUpdated.model_validate(twin_view(twin) | {"update_tx_hash": tx_hash})


@router.get("/01/{gtin}/21/{serial}", include_in_schema=False)
@router.get("/01/{gtin}/10/{lot}/21/{serial}", include_in_schema=False)
def gs1_digital_link(gtin: str, serial: str, lot: str | None = None) -> RedirectResponse:
    """GS1 Digital Link resolver: the `external_url` of physical twins points here."""
    return RedirectResponse(f"/v1/twins?{urlencode({'gtin': gtin, 'serial': serial})}", status_code=307)
