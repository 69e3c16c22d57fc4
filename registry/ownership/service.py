"""Gasless owner actions (transfers, lost/stolen reports) relayed from EIP-712 signatures, and
the brand's own status calls. The API checks what it can first; the contract decides."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import Session
from web3 import Web3

from registry.brands.models import Brand, Collection
from registry.chain import typed_data
from registry.chain.client import OnChainTwin, TwinmarkChain
from registry.chain.refusals import StaleNonce, TwinStolen, refusal
from registry.errors import ContractReverted, InvalidInput, NotFound

STATUS_CODES = {"active": 0, "lost": 1, "stolen": 2}
SIGNATURE_TTL = 3600


def _live(chain: TwinmarkChain, contract: str, token_id: int) -> OnChainTwin:
    twin = chain.twin(contract, token_id)
    if twin is None:
        raise NotFound(f"twin {token_id} of {contract} does not exist on chain (never minted, or destroyed)")
    return twin


def _address(text: str, what: str) -> str:
    if not Web3.is_address(text):
        raise InvalidInput(f"{what} {text!r} is not an address")
    return Web3.to_checksum_address(text)


def _relay(fn: Any, chain: TwinmarkChain) -> str:
    try:
        receipt = chain.sender.transact(fn)
    except ContractReverted as exc:
        raise refusal(exc) from None
    return "0x" + bytes(receipt["transactionHash"]).hex()


def transfer_typed_data(chain: TwinmarkChain, contract: str, token_id: int, to: str) -> dict[str, Any]:
    twin = _live(chain, contract, token_id)
    if twin.status == 2:
        raise TwinStolen("the twin is reported stolen: it cannot be transferred")
    message = {
        "to": _address(to, "recipient"),
        "tokenId": token_id,
        "nonce": twin.nonce,
        "deadline": int(time.time()) + SIGNATURE_TTL,
    }
    payload = typed_data.typed_data("TransferTwin", chain.sender.chain_id, contract, message)
    return {"owner": twin.owner, "typed_data": payload}


def relay_transfer(
    chain: TwinmarkChain, contract: str, token_id: int, *, to: str, nonce: int, deadline: int, signature: bytes
) -> dict[str, Any]:
    twin = _live(chain, contract, token_id)
    if twin.status == 2:
        raise TwinStolen("the twin is reported stolen: it cannot be transferred")
    if nonce != twin.nonce:
        raise StaleNonce(f"the signature is for nonce {nonce}; the twin's nonce is {twin.nonce} (replayed or outdated)")
    recipient = _address(to, "recipient")
    fn = chain.collection(contract).functions.transferBySig(recipient, token_id, nonce, deadline, signature)
    return {
        "contract": contract,
        "token_id": token_id,
        "from": twin.owner,
        "owner": recipient,
        "tx_hash": _relay(fn, chain),
    }


def status_typed_data(chain: TwinmarkChain, contract: str, token_id: int, status: str) -> dict[str, Any]:
    if status not in ("lost", "stolen", "active"):
        raise InvalidInput("status must be lost, stolen or active (found again after a loss)")
    twin = _live(chain, contract, token_id)
    message = {
        "tokenId": token_id,
        "status": STATUS_CODES[status],
        "nonce": twin.nonce,
        "deadline": int(time.time()) + SIGNATURE_TTL,
    }
    return {
        "owner": twin.owner,
        "typed_data": typed_data.typed_data("ReportStatus", chain.sender.chain_id, contract, message),
    }


def relay_status(
    chain: TwinmarkChain, contract: str, token_id: int, *, status: str, nonce: int, deadline: int, signature: bytes
) -> dict[str, Any]:
    if status not in STATUS_CODES:
        raise InvalidInput("status must be lost, stolen or active")
    twin = _live(chain, contract, token_id)
    if nonce != twin.nonce:
        raise StaleNonce(f"the signature is for nonce {nonce}; the twin's nonce is {twin.nonce} (replayed or outdated)")
    fn = chain.collection(contract).functions.reportStatusBySig(
        token_id, STATUS_CODES[status], nonce, deadline, signature
    )
    return {"contract": contract, "token_id": token_id, "status": status, "tx_hash": _relay(fn, chain)}


def own_collection(session: Session, brand: Brand, contract: str) -> Collection:
    """The collection, if it is this brand's; otherwise it does not exist for the caller."""
    collection = session.get(Collection, contract)
    if collection is None or collection.brand_id != brand.id:
        raise NotFound(f"{contract} is not a collection of this brand")
    return collection


def brand_status(
    session: Session, chain: TwinmarkChain, brand: Brand, contract: str, token_id: int, status: str
) -> dict[str, Any]:
    """The brand marks a twin stolen on evidence, or recovered (`active`)."""
    own_collection(session, brand, contract)
    if status not in ("stolen", "active"):
        raise InvalidInput("a brand sets stolen or active (recovered); only owners report lost")
    _live(chain, contract, token_id)
    fn = chain.collection(contract).functions.setStatusByBrand(token_id, STATUS_CODES[status])
    return {"contract": contract, "token_id": token_id, "status": status, "tx_hash": _relay(fn, chain)}
