from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from web3 import Web3

from api.deps import RuntimeDep, SessionDep
from registry.errors import InvalidInput
from registry.twins.service import find_twins, get_twin, twin_view

router = APIRouter(tags=["twins"])
Address = Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")]


def _checksum(contract: str) -> str:
    if not Web3.is_address(contract):
        raise InvalidInput(f"{contract!r} is not a contract address")
    return Web3.to_checksum_address(contract)


@router.get("/v1/twins/{contract}/{token_id}")
def read_twin(contract: str, token_id: int, rt: RuntimeDep, s: SessionDep) -> dict[str, Any]:
    """The registry's record of a twin, with its live owner and status from the chain."""
    return twin_view(get_twin(s, _checksum(contract), token_id), rt.chain)


@router.get("/v1/twins")
def search_twins(s: SessionDep, gtin: str, serial: str | None = None) -> dict[str, Any]:
    """Twins by GTIN (8 to 14 digits, check digit verified) and optionally serial."""
    return {"twins": [twin_view(t) for t in find_twins(s, gtin, serial)]}


@router.get("/01/{gtin}/21/{serial}", include_in_schema=False)
@router.get("/01/{gtin}/10/{lot}/21/{serial}", include_in_schema=False)
def gs1_digital_link(gtin: str, serial: str, lot: str | None = None) -> RedirectResponse:
    """GS1 Digital Link resolver: the `external_url` of physical twins points here."""
    return RedirectResponse(f"/v1/twins?{urlencode({'gtin': gtin, 'serial': serial})}", status_code=307)
