"""Service records: a provider's document on IPFS, anchored on chain under the provider's signature."""

from __future__ import annotations

import time
from datetime import date
from typing import Any, Literal

from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from registry.brands.service import Principal, provider_account
from registry.chain import typed_data
from registry.chain.client import TwinmarkChain
from registry.chain.refusals import refusal
from registry.errors import ContractReverted, Forbidden, NotFound
from registry.ipfs.store import ContentStore, add_bytes
from registry.twins.metadata import canonical
from registry.twins.models import Twin


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
    who: Principal,
    contract: str,
    token_id: int,
    record: ServiceRecordIn,
) -> dict[str, Any]:
    assert who.provider is not None
    twin = session.get(Twin, (contract, token_id))
    if twin is None:
        raise NotFound(f"no twin {token_id} in {contract}")
    if twin.brand_id != who.provider.brand_id:
        raise Forbidden("this provider is not authorised by the brand of that twin")
    document = {
        "type": "https://twinmark.dev/schemas/service-record/v1",
        "contract": contract,
        "token_id": token_id,
        "provider": {"name": who.provider.name, "address": who.provider.address},
        **record.model_dump(mode="json"),
    }
    imported = add_bytes(store, canonical(document))
    cid = imported.cid.to_bytes()
    account = provider_account(who)
    contract_fns = chain.collection(contract).functions
    nonce = int(chain.call(contract_fns.providerNonce(account.address)))
    deadline = int(time.time()) + 600
    message = {"tokenId": token_id, "recordCidHash": keccak(cid), "nonce": nonce, "deadline": deadline}
    signature = typed_data.sign(
        account, typed_data.typed_data("ServiceRecord", chain.sender.chain_id, contract, message)
    )
    try:
        receipt = chain.sender.transact(
            contract_fns.recordServiceBySig(token_id, cid, account.address, nonce, deadline, signature)
        )
    except ContractReverted as exc:
        raise refusal(exc) from None
    return {
        "contract": contract,
        "token_id": token_id,
        "record_cid": str(imported.cid),
        "provider": account.address,
        "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex(),
    }
