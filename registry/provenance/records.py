"""Service records: a provider's document on IPFS, anchored on chain under the provider's signature."""

from __future__ import annotations

import time
from datetime import date
from typing import Literal

from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from registry.auth.service import Caller
from registry.brands.models import Collection
from registry.chain import typed_data
from registry.chain.client import TwinmarkChain
from registry.errors import Forbidden, NotFound
from registry.ipfs.store import ContentStore, add_bytes
from registry.provenance.schemas import ServiceRecordOut
from registry.providers.service import calling_provider, signing_account
from registry.twins.metadata import canonical
from registry.twins.models import Twin
from registry.twins.prices import refuse_prices


class ServiceRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["repair", "authentication", "cleaning", "inspection", "alteration", "other"]
    summary: str = Field(min_length=1, max_length=2000)
    performed_on: date
    details: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=50)


def add_record(
    session: Session,
    chain: TwinmarkChain,
    store: ContentStore,
    caller: Caller,
    contract: str,
    token_id: int,
    record: ServiceRecordIn,
) -> ServiceRecordOut:
    provider = calling_provider(session, caller)
    twin = session.get(Twin, (contract, token_id))
    if twin is None:
        raise NotFound(f"no twin {token_id} in {contract}")
    if twin.brand_id != provider.brand_id:
        raise Forbidden("this provider is not authorised by the brand of that twin")
    collection = session.get(Collection, contract)
    if collection is not None and collection.no_prices:
        refuse_prices(record.model_dump(mode="json"))
    document = {
        "type": "https://twinmark.dev/schemas/service-record/v1",
        "contract": contract,
        "token_id": token_id,
        "provider": {"name": provider.name, "address": provider.address},
        **record.model_dump(mode="json"),
    }
    imported = add_bytes(store, canonical(document))
    cid = imported.cid.to_bytes()
    account = signing_account(caller, provider)
    nonce = chain.provider_nonce(contract, account.address)
    deadline = int(time.time()) + 600
    message = {"tokenId": token_id, "recordCidHash": keccak(cid), "nonce": nonce, "deadline": deadline}
    signature = typed_data.sign(account, typed_data.typed_data("ServiceRecord", chain.chain_id, contract, message))
    tx_hash = chain.record_service_by_sig(contract, token_id, cid, account.address, nonce, deadline, signature)
    return ServiceRecordOut(
        contract=contract, token_id=token_id, record_cid=str(imported.cid), provider=account.address, tx_hash=tx_hash
    )
