"""Service providers: authorised by a brand; they append service records to twins' histories."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import BrandDep, ChainDep, ProviderDep, SessionDep, StoreDep
from api.routes.common import TokenId, checksum, pending_answer, relayed
from registry.provenance.records import ServiceRecordIn, add_record
from registry.providers import service as providers
from registry.providers.schemas import ProviderCreated, ProviderIn
from registry.transactions.schemas import ServiceRecordRelayed
from registry.transactions.service import with_state

router = APIRouter(tags=["providers"])


@router.post(
    "/v1/providers",
    status_code=status.HTTP_201_CREATED,
    response_model=ProviderCreated,
    responses=pending_answer(ProviderCreated),
)
def create_provider(
    body: ProviderIn, brand: BrandDep, response: Response, chain: ChainDep, s: SessionDep
) -> ProviderCreated:
    """Authorises a service provider (repairer, authenticator) on chain; its API key is shown once.
    201 once its authorisations are mined; 202 (provider created, authorisation pending) otherwise."""
    made = providers.create_provider(s, chain, brand, body.name)
    relayed(response, made.state, mined=status.HTTP_201_CREATED)
    p = made.provider
    return ProviderCreated(
        id=p.id, name=p.name, address=p.address, api_key=made.api_key, tx_hashes=made.tx_hashes, state=made.state
    )


@router.post(
    "/v1/twins/{contract}/{token_id}/service-records",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceRecordRelayed,
    responses=pending_answer(ServiceRecordRelayed),
)
def service_record(
    contract: str,
    token_id: TokenId,
    body: ServiceRecordIn,
    who: ProviderDep,
    response: Response,
    chain: ChainDep,
    store: StoreDep,
    s: SessionDep,
) -> ServiceRecordRelayed:
    """A provider appends a record: the document goes to IPFS, its CID on chain under the provider's
    signature. 201 once mined, 202 while pending."""
    out = with_state(chain, add_record(s, chain, store, who, checksum(contract), token_id, body))
    relayed(response, out.state, mined=status.HTTP_201_CREATED)
    return out
