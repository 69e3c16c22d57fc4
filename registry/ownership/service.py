"""Gasless owner actions (transfers, lost/stolen reports) relayed from EIP-712 signatures, and
the brand's own status calls. The API checks what it can first; the contract decides."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import Session
from web3 import Web3

from registry.brands.models import Brand
from registry.brands.service import own_collection
from registry.chain import typed_data
from registry.chain.client import TwinmarkChain
from registry.chain.layout import Status
from registry.chain.refusals import StaleNonce, TwinStolen
from registry.chain.report import OnChainTwin
from registry.db import ratelimit
from registry.db.ratelimit import Limit
from registry.errors import InvalidInput, NotFound
from registry.ownership.schemas import StatusOut, TransferOut, TypedDataOut
from registry.settings import Settings

SIGNATURE_TTL = 3600
HOUR = timedelta(hours=1)


def _relay_limits(
    settings: Settings, *, client: str, owner: str, contract: str, token_id: int
) -> list[tuple[Limit, str]]:
    """The hourly quotas of a relay the service pays for: the client's (with a ceiling for all clients
    together), the owner's and the twin's (a wallet bouncing a twin between two addresses is stopped by it)."""
    return [
        (
            Limit(
                "relays:client",
                settings.relay_limit_per_client,
                HOUR,
                "relays from this client",
                settings.relay_ceiling_per_hour,
            ),
            client,
        ),
        (Limit("relays:owner", settings.relay_limit_per_owner, HOUR, "relays for this owner"), owner),
        (Limit("relays:twin", settings.relay_limit_per_token, HOUR, "relays for this twin"), f"{contract}/{token_id}"),
    ]


def paid_relay(
    session: Session,
    settings: Settings,
    send: Callable[[], str],
    *,
    signer: str | None,
    client: str,
    owner: str,
    contract: str,
    token_id: int,
) -> str:
    """Relays `send` under the quotas, 429 once one is used up. A signature that recovers to the owner
    spends them before the relay (spent even if it then fails). Any other (a contract wallet's ERC-1271
    signature, which only the chain can check, or a forgery) spends only the client's own budget of
    such relays first; the owner's, the twin's and the all-clients quotas are counted once the chain's
    simulation accepted it, so forged signatures cannot use them up and lock genuine owners out."""
    limits = _relay_limits(settings, client=client, owner=owner, contract=contract, token_id=token_id)
    if signer is not None and signer.lower() == owner.lower():
        ratelimit.hit(session, limits)
        session.commit()
        return send()
    ratelimit.check(session, limits)
    unverified = Limit("relays:unverified", settings.relay_limit_per_client, HOUR, "unverified relays from this client")
    ratelimit.hit(session, [(unverified, client)])
    session.commit()
    tx_hash = send()
    ratelimit.count(session, limits)  # committed with the request
    return tx_hash


def live_twin(
    chain: TwinmarkChain, contract: str, token_id: int, *, to_move: bool = False, nonce: int | None = None
) -> OnChainTwin:
    """The twin on chain; refused when it is reported stolen and `to_move`, and when `nonce` (the one a
    signature was made for) is not the twin's: each relay (signed or passkey) checks here, before paying
    for a simulation."""
    twin = chain.twin(contract, token_id)
    if twin is None:
        raise NotFound(f"twin {token_id} of {contract} does not exist on chain (never minted, or destroyed)")
    if to_move and twin.status == Status.stolen:
        raise TwinStolen("the twin is reported stolen: it cannot be transferred")
    if nonce is not None and nonce != twin.nonce:
        raise StaleNonce(f"the signature is for nonce {nonce}; the twin's nonce is {twin.nonce} (replayed or outdated)")
    return twin


def _address(text: str, what: str) -> str:
    if not Web3.is_address(text):
        raise InvalidInput(f"{what} {text!r} is not an address")
    return Web3.to_checksum_address(text)


def _status(name: str, allowed: tuple[str, ...], message: str) -> Status:
    if name not in allowed:
        raise InvalidInput(message)
    return Status[name]


def transfer_typed_data(chain: TwinmarkChain, contract: str, token_id: int, to: str) -> TypedDataOut:
    twin = live_twin(chain, contract, token_id, to_move=True)
    message = {
        "to": _address(to, "recipient"),
        "tokenId": token_id,
        "nonce": twin.nonce,
        "deadline": int(time.time()) + SIGNATURE_TTL,
    }
    payload = typed_data.typed_data("TransferTwin", chain.chain_id, contract, message)
    return TypedDataOut(owner=twin.owner, typed_data=payload)


def relay_transfer(
    session: Session,
    chain: TwinmarkChain,
    settings: Settings,
    contract: str,
    token_id: int,
    *,
    client: str,
    to: str,
    nonce: int,
    deadline: int,
    signature: bytes,
) -> TransferOut:
    twin = live_twin(chain, contract, token_id, to_move=True, nonce=nonce)
    recipient = _address(to, "recipient")
    message = {"to": recipient, "tokenId": token_id, "nonce": nonce, "deadline": deadline}
    tx_hash = paid_relay(
        session,
        settings,
        lambda: chain.transfer_by_sig(contract, recipient, token_id, nonce, deadline, signature),
        signer=typed_data.recover(typed_data.typed_data("TransferTwin", chain.chain_id, contract, message), signature),
        client=client,
        owner=twin.owner,
        contract=contract,
        token_id=token_id,
    )
    return TransferOut(
        contract=contract,
        token_id=token_id,
        owner=recipient,
        tx_hash=tx_hash,
        state=chain.relay_state(tx_hash),
        **{"from": twin.owner},  # `from` is a keyword: the field's alias is passed by name
    )


def status_typed_data(chain: TwinmarkChain, contract: str, token_id: int, status: str) -> TypedDataOut:
    code = _status(
        status, ("lost", "stolen", "active"), "status must be lost, stolen or active (found again after a loss)"
    )
    twin = live_twin(chain, contract, token_id)
    message = {
        "tokenId": token_id,
        "status": int(code),
        "nonce": twin.nonce,
        "deadline": int(time.time()) + SIGNATURE_TTL,
    }
    return TypedDataOut(
        owner=twin.owner, typed_data=typed_data.typed_data("ReportStatus", chain.chain_id, contract, message)
    )


def relay_status(
    session: Session,
    chain: TwinmarkChain,
    settings: Settings,
    contract: str,
    token_id: int,
    *,
    client: str,
    status: str,
    nonce: int,
    deadline: int,
    signature: bytes,
) -> StatusOut:
    code = _status(status, ("lost", "stolen", "active"), "status must be lost, stolen or active")
    twin = live_twin(chain, contract, token_id, nonce=nonce)
    message = {"tokenId": token_id, "status": int(code), "nonce": nonce, "deadline": deadline}
    tx_hash = paid_relay(
        session,
        settings,
        lambda: chain.report_status_by_sig(contract, token_id, int(code), nonce, deadline, signature),
        signer=typed_data.recover(typed_data.typed_data("ReportStatus", chain.chain_id, contract, message), signature),
        client=client,
        owner=twin.owner,
        contract=contract,
        token_id=token_id,
    )
    return StatusOut(
        contract=contract, token_id=token_id, status=status, tx_hash=tx_hash, state=chain.relay_state(tx_hash)
    )


def brand_status(
    session: Session, chain: TwinmarkChain, brand: Brand, contract: str, token_id: int, status: str
) -> StatusOut:
    """The brand marks a twin stolen on evidence, or recovered (`active`)."""
    own_collection(session, brand, contract)
    code = _status(status, ("stolen", "active"), "a brand sets stolen or active (recovered); only owners report lost")
    live_twin(chain, contract, token_id)
    tx_hash = chain.set_status_by_brand(contract, token_id, int(code))
    return StatusOut(
        contract=contract, token_id=token_id, status=status, tx_hash=tx_hash, state=chain.relay_state(tx_hash)
    )
