"""Signed owner actions relayed for owners who hold no gas, and the brand's status calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import OptionalCallerDep, RuntimeDep, SessionDep
from api.routes.common import TokenId, checksum, client_address, signature_bytes
from registry.brands.service import get_brand
from registry.errors import Forbidden, InvalidInput, Unauthenticated
from registry.ownership import service as ownership
from registry.ownership.schemas import SignedTransferIn, StatusIn, StatusOut, TransferOut, TypedDataOut

router = APIRouter(tags=["ownership"])


@router.get("/v1/twins/{contract}/{token_id}/transfers/typed-data", response_model=TypedDataOut)
def transfer_typed_data(contract: str, token_id: TokenId, rt: RuntimeDep, to: Annotated[str, Query()]) -> TypedDataOut:
    """The EIP-712 message the owner signs (eth_signTypedData_v4) to transfer the twin to `to`."""
    return TypedDataOut.model_validate(ownership.transfer_typed_data(rt.chain, checksum(contract), token_id, to))


@router.post("/v1/twins/{contract}/{token_id}/transfers", response_model=TransferOut)
def transfer(
    contract: str, token_id: TokenId, body: SignedTransferIn, request: Request, rt: RuntimeDep, s: SessionDep
) -> TransferOut:
    """Relays the owner's signed transfer (EOA or ERC-1271 contract wallet), within hourly quotas per
    client, owner and twin, and a gas cap."""
    return TransferOut.model_validate(
        ownership.relay_transfer(
            s,
            rt.chain,
            rt.settings,
            checksum(contract),
            token_id,
            client=client_address(request),
            to=body.to,
            nonce=body.nonce,
            deadline=body.deadline,
            signature=signature_bytes(body.signature),
        )
    )


@router.get("/v1/twins/{contract}/{token_id}/status/typed-data", response_model=TypedDataOut)
def status_typed_data(
    contract: str, token_id: TokenId, rt: RuntimeDep, status: Annotated[str, Query()]
) -> TypedDataOut:
    """The EIP-712 message the owner signs to report the twin lost, stolen, or found (`active`)."""
    return TypedDataOut.model_validate(ownership.status_typed_data(rt.chain, checksum(contract), token_id, status))


@router.post("/v1/twins/{contract}/{token_id}/status", response_model=StatusOut)
def set_status(
    contract: str,
    token_id: TokenId,
    body: StatusIn,
    request: Request,
    rt: RuntimeDep,
    s: SessionDep,
    caller: OptionalCallerDep,
) -> StatusOut:
    """With a brand API key: the brand marks stolen or recovered (`active`). Without: the owner's
    signed report (`signature`, `nonce`, `deadline` from the typed data) is relayed."""
    address = checksum(contract)
    if caller is not None:
        if caller.partner is not None:
            raise Unauthenticated("invalid API key")
        if caller.provider_id is not None or caller.brand_id is None:
            raise Forbidden("a service provider's key cannot change a twin's status")
        return StatusOut.model_validate(
            ownership.brand_status(s, rt.chain, get_brand(s, caller.brand_id), address, token_id, body.status)
        )
    if body.signature is None or body.nonce is None or body.deadline is None:
        raise InvalidInput("an owner's report needs signature, nonce and deadline (GET .../status/typed-data)")
    return StatusOut.model_validate(
        ownership.relay_status(
            s,
            rt.chain,
            rt.settings,
            address,
            token_id,
            client=client_address(request),
            status=body.status,
            nonce=body.nonce,
            deadline=body.deadline,
            signature=signature_bytes(body.signature),
        )
    )
