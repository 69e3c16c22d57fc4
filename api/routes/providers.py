"""Service providers: authorised by a brand; they append service records to twins' histories."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import BrandDep, ProviderDep, RuntimeDep, SessionDep
from api.routes.common import TokenId, checksum
from registry.provenance.records import ServiceRecordIn, add_record
from registry.provenance.schemas import ServiceRecordOut
from registry.providers import service as providers
from registry.providers.schemas import ProviderCreated, ProviderIn

router = APIRouter(tags=["providers"])


@router.post("/v1/providers", status_code=status.HTTP_201_CREATED)
def create_provider(body: ProviderIn, brand: BrandDep, rt: RuntimeDep, s: SessionDep) -> ProviderCreated:
    """Authorises a service provider (repairer, authenticator) on chain; its API key is shown once."""
    made = providers.create_provider(s, rt.chain, brand, body.name)
    p = made.provider
    return ProviderCreated(id=p.id, name=p.name, address=p.address, api_key=made.api_key)


@router.post(
    "/v1/twins/{contract}/{token_id}/service-records",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceRecordOut,
)
def service_record(
    contract: str, token_id: TokenId, body: ServiceRecordIn, who: ProviderDep, rt: RuntimeDep, s: SessionDep
) -> ServiceRecordOut:
    """A provider appends a record: the document goes to IPFS, its CID on chain under the provider's signature."""
    return ServiceRecordOut.model_validate(add_record(s, rt.chain, rt.store, who, checksum(contract), token_id, body))
