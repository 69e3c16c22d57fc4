"""Ownership lifecycle: claim secrets, claims, gasless transfers and status reports, providers and
service records, content updates, brand compromise, provenance. Users hold no gas: the service
relays their signatures and pays."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3

from api.deps import (
    BrandDep,
    BrandPrincipalDep,
    Credentials,
    OperatorDep,
    ProviderDep,
    RuntimeDep,
    SessionDep,
)
from registry.brands import service as brands
from registry.brands.service import authenticate
from registry.claims import service as claims
from registry.errors import Forbidden, InvalidInput, NotFound
from registry.jobs.models import Job
from registry.ownership import service as ownership
from registry.provenance.records import ServiceRecordIn, add_record
from registry.provenance.service import timeline
from registry.twins.schemas import TwinIn
from registry.twins.service import twin_view
from registry.twins.updates import update_content

router = APIRouter(tags=["lifecycle"])
Hex = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]*$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _contract(contract: str) -> str:
    if not Web3.is_address(contract):
        raise InvalidInput(f"{contract!r} is not a contract address")
    return Web3.to_checksum_address(contract)


def _signature(text: str) -> bytes:
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("signature must be hex") from None


# ---------------------------------------------------------------- claim secrets and claims


@router.get("/v1/jobs/{job_id}/claim-secrets", response_model=None)
def claim_secrets(
    job_id: str, who: BrandPrincipalDep, rt: RuntimeDep, s: SessionDep, format: Literal["json", "csv"] = "json"
) -> Any:
    """The job's claim secrets, handed over exactly once (JSON, or CSV to print as QR codes)."""
    job = s.get(Job, job_id)
    if job is None or job.brand_id != who.brand.id:
        raise NotFound(f"no job {job_id}")
    rows = claims.fetch_secrets(s, job, api_key=who.key, api_key_id=who.key_id, base_url=rt.settings.base_url)
    if format == "json":
        return {"job": job_id, "secrets": rows, "note": "shown once; the service keeps no copy"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["contract", "token_id", "name", "gtin", "serial", "secret", "claim_url"])
    writer.writeheader()
    writer.writerows(rows)
    return PlainTextResponse(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="claim-secrets-{job_id}.csv"'},
    )


class ClaimIn(Strict):
    secret: str = Field(min_length=16, max_length=100)
    recipient: Address


@router.post("/v1/twins/{contract}/{token_id}/claim")
def claim_twin(contract: str, token_id: int, body: ClaimIn, rt: RuntimeDep, s: SessionDep) -> dict[str, Any]:
    """The buyer claims the twin with the secret shipped with the item; the service relays and pays."""
    return claims.claim(
        s,
        rt.chain,
        contract=_contract(contract),
        token_id=token_id,
        secret=body.secret,
        recipient=Web3.to_checksum_address(body.recipient),
    )


# ---------------------------------------------------------------- transfers


@router.get("/v1/twins/{contract}/{token_id}/transfers/typed-data")
def transfer_typed_data(contract: str, token_id: int, rt: RuntimeDep, to: Annotated[str, Query()]) -> dict[str, Any]:
    """The EIP-712 message the owner signs (eth_signTypedData_v4) to transfer the twin to `to`."""
    return ownership.transfer_typed_data(rt.chain, _contract(contract), token_id, to)


class SignedTransferIn(Strict):
    to: Address
    nonce: int = Field(ge=0)
    deadline: int = Field(gt=0)
    signature: Hex


@router.post("/v1/twins/{contract}/{token_id}/transfers")
def transfer(contract: str, token_id: int, body: SignedTransferIn, rt: RuntimeDep) -> dict[str, Any]:
    """Relays the owner's signed transfer (EOA or ERC-1271 contract wallet)."""
    return ownership.relay_transfer(
        rt.chain,
        _contract(contract),
        token_id,
        to=body.to,
        nonce=body.nonce,
        deadline=body.deadline,
        signature=_signature(body.signature),
    )


# ---------------------------------------------------------------- status


@router.get("/v1/twins/{contract}/{token_id}/status/typed-data")
def status_typed_data(contract: str, token_id: int, rt: RuntimeDep, status: Annotated[str, Query()]) -> dict[str, Any]:
    """The EIP-712 message the owner signs to report the twin lost, stolen, or found (`active`)."""
    return ownership.status_typed_data(rt.chain, _contract(contract), token_id, status)


class StatusIn(Strict):
    status: Literal["active", "lost", "stolen"]
    nonce: int | None = Field(default=None, ge=0)
    deadline: int | None = Field(default=None, gt=0)
    signature: Hex | None = None


@router.post("/v1/twins/{contract}/{token_id}/status")
def set_status(
    contract: str, token_id: int, body: StatusIn, rt: RuntimeDep, s: SessionDep, credentials: Credentials
) -> dict[str, Any]:
    """With a brand API key: the brand marks stolen or recovered (`active`). Without: the owner's
    signed report (`signature`, `nonce`, `deadline` from the typed data) is relayed."""
    address = _contract(contract)
    if credentials is not None:
        who = authenticate(s, credentials.credentials)
        if who.provider is not None:
            raise Forbidden("a service provider's key cannot change a twin's status")
        return ownership.brand_status(s, rt.chain, who.brand, address, token_id, body.status)
    if body.signature is None or body.nonce is None or body.deadline is None:
        raise InvalidInput("an owner's report needs signature, nonce and deadline (GET .../status/typed-data)")
    return ownership.relay_status(
        rt.chain,
        address,
        token_id,
        status=body.status,
        nonce=body.nonce,
        deadline=body.deadline,
        signature=_signature(body.signature),
    )


# ---------------------------------------------------------------- providers and service records


class ProviderIn(Strict):
    name: str = Field(min_length=1, max_length=200)


@router.post("/v1/providers", status_code=status.HTTP_201_CREATED)
def create_provider(body: ProviderIn, brand: BrandDep, rt: RuntimeDep, s: SessionDep) -> dict[str, Any]:
    """Authorises a service provider (repairer, authenticator) on chain; its API key is shown once."""
    made = brands.create_provider(s, rt.chain, brand, body.name)
    return {
        "id": made.provider.id,
        "name": made.provider.name,
        "address": made.provider.address,
        "api_key": made.api_key,
    }


@router.post("/v1/twins/{contract}/{token_id}/service-records", status_code=status.HTTP_201_CREATED)
def service_record(
    contract: str, token_id: int, body: ServiceRecordIn, who: ProviderDep, rt: RuntimeDep, s: SessionDep
) -> dict[str, Any]:
    """A provider appends a record: the document goes to IPFS, its CID on chain under the provider's signature."""
    return add_record(s, rt.chain, rt.store, who, _contract(contract), token_id, body)


# ---------------------------------------------------------------- content, provenance, compromise


@router.put("/v1/twins/{contract}/{token_id}/metadata")
def replace_metadata(
    contract: str, token_id: int, content: TwinIn, brand: BrandDep, rt: RuntimeDep, s: SessionDep
) -> dict[str, Any]:
    """Replaces a twin's content after repair or re-authentication; the old anchor stays in the history."""
    twin, tx_hash = update_content(s, rt.chain, rt.store, rt.settings, brand, _contract(contract), token_id, content)
    return twin_view(twin) | {"update_tx_hash": tx_hash}


@router.get("/v1/twins/{contract}/{token_id}/provenance")
def provenance(contract: str, token_id: int, rt: RuntimeDep) -> dict[str, Any]:
    """The twin's timeline from chain events, oldest first."""
    address = _contract(contract)
    events = timeline(rt.chain, address, token_id)
    if not events:
        raise NotFound(f"no events for twin {token_id} of {address}")
    return {"contract": address, "token_id": token_id, "events": events}


class CompromiseIn(Strict):
    since: datetime | int = Field(description="ISO 8601 time or unix seconds, not in the future")


@router.post("/v1/brands/{brand_id}/compromise", dependencies=[OperatorDep])
def compromise(brand_id: str, body: CompromiseIn, rt: RuntimeDep, s: SessionDep) -> dict[str, Any]:
    """Operator: the brand's keys were compromised from `since`; its twins minted from then on fail verification."""
    since = body.since if isinstance(body.since, int) else int(body.since.timestamp())
    return brands.mark_compromised(s, rt.chain, brand_id, since)


@router.post("/v1/brands/{brand_id}/compromise/resolve", dependencies=[OperatorDep])
def resolve(brand_id: str, rt: RuntimeDep, s: SessionDep) -> dict[str, Any]:
    """Operator: new keys in place; the compromise window closes now."""
    return brands.resolve_compromise(s, rt.chain, brand_id)
