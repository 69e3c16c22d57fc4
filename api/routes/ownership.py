"""Signed owner actions relayed for owners who hold no gas, and the brand's status calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from api.deps import KEY_OPTIONAL, ChainDep, OptionalCallerDep, SessionDep, SettingsDep
from api.routes.common import TokenId, checksum, client_address, pending_answer, relayed, signature_bytes
from registry.auth.service import Caller
from registry.brands.service import get_brand
from registry.chain.client import TwinmarkChain
from registry.errors import Forbidden, InvalidInput, Unauthenticated
from registry.ownership import service as ownership
from registry.ownership.schemas import SignedTransferIn, StatusIn, StatusOut, TransferOut, TypedDataOut
from registry.settings import Settings

router = APIRouter(tags=["ownership"])


@router.get("/v1/twins/{contract}/{token_id}/transfers/typed-data", response_model=TypedDataOut)
def transfer_typed_data(contract: str, token_id: TokenId, chain: ChainDep, to: Annotated[str, Query()]) -> TypedDataOut:
    """The EIP-712 message the owner signs (eth_signTypedData_v4) to transfer the twin to `to`."""
    return ownership.transfer_typed_data(chain, checksum(contract), token_id, to)


@router.post(
    "/v1/twins/{contract}/{token_id}/transfers", response_model=TransferOut, responses=pending_answer(TransferOut)
)
def transfer(
    contract: str,
    token_id: TokenId,
    body: SignedTransferIn,
    request: Request,
    response: Response,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
) -> TransferOut:
    """Relays the owner's signed transfer (EOA or ERC-1271 contract wallet), within hourly quotas per
    client, owner and twin, and a gas cap. 200 once mined, 202 while pending."""
    out = ownership.relay_transfer(
        s,
        chain,
        settings,
        checksum(contract),
        token_id,
        client=client_address(request),
        to=body.to,
        nonce=body.nonce,
        deadline=body.deadline,
        signature=signature_bytes(body.signature),
    )
    relayed(response, out.state)
    return out


@router.get("/v1/twins/{contract}/{token_id}/status/typed-data", response_model=TypedDataOut)
def status_typed_data(
    contract: str, token_id: TokenId, chain: ChainDep, status: Annotated[str, Query()]
) -> TypedDataOut:
    """The EIP-712 message the owner signs to report the twin lost, stolen, or found (`active`)."""
    return ownership.status_typed_data(chain, checksum(contract), token_id, status)


@router.post(
    "/v1/twins/{contract}/{token_id}/status",
    response_model=StatusOut,
    responses=pending_answer(StatusOut),
    openapi_extra=KEY_OPTIONAL,
)
def set_status(
    contract: str,
    token_id: TokenId,
    body: StatusIn,
    request: Request,
    response: Response,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
    caller: OptionalCallerDep,
) -> StatusOut:
    """With a brand API key: the brand marks stolen or recovered (`active`). Without: the owner's
    signed report (`signature`, `nonce`, `deadline` from the typed data) is relayed. 200 once mined,
    202 while pending."""
    out = _status(s, chain, settings, checksum(contract), token_id, body, client_address(request), caller)
    relayed(response, out.state)
    return out


def _status(
    s: Session,
    chain: TwinmarkChain,
    settings: Settings,
    address: str,
    token_id: int,
    body: StatusIn,
    client: str,
    caller: Caller | None,
) -> StatusOut:
    if caller is not None:
        if caller.partner is not None:
            raise Unauthenticated("invalid API key")
        if caller.provider_id is not None or caller.brand_id is None:
            raise Forbidden("a service provider's key cannot change a twin's status")
        return ownership.brand_status(s, chain, get_brand(s, caller.brand_id), address, token_id, body.status)
    if body.signature is None or body.nonce is None or body.deadline is None:
        raise InvalidInput("an owner's report needs signature, nonce and deadline (GET .../status/typed-data)")
    return ownership.relay_status(
        s,
        chain,
        settings,
        address,
        token_id,
        client=client,
        status=body.status,
        nonce=body.nonce,
        deadline=body.deadline,
        signature=signature_bytes(body.signature),
    )
