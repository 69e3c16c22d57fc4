"""A physical twin's passport as JSON: the `gs1:dpp` target of its GS1 Digital Link."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import SessionDep, SettingsDep
from api.routes.common import TokenId, checksum
from registry.resolver.schemas import PassportOut
from registry.twins.service import get_twin, passport_view

router = APIRouter(tags=["twins"])


@router.get("/v1/twins/{contract}/{token_id}/passport", response_model=PassportOut)
def read_passport(
    contract: str, token_id: TokenId, response: Response, settings: SettingsDep, s: SessionDep
) -> PassportOut:
    """Public: identity, links and `twinmark.passport` (EU DPP fields under `dpp`) of a physical twin.
    The content is as the registry indexed it; `/v1/verify` checks it against the chain and IPFS."""
    twin = get_twin(s, checksum(contract), token_id)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return PassportOut.model_validate(passport_view(twin, settings.base_url, settings.gateway_base))
