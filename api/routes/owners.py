"""Owners who sign with a passkey (no wallet): registration, sign-in (the player session every
`PlayerDep` route takes), and passkey-signed transfers, status reports and device changes relayed
by the service. The WebAuthn relying party is the service's own `base_url`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlmodel import Session

from api.deps import ChainDep, EngineDep, PlayerDep, SessionDep, SettingsDep
from api.routes.common import TokenId, checksum, client_address, pending_answer, relayed
from registry.chain.client import TwinmarkChain
from registry.errors import Forbidden
from registry.owners import relay, service
from registry.owners.models import OwnerPasskey
from registry.owners.schemas import (
    AccountOut,
    CeremonyIn,
    CeremonyOut,
    DeviceAddedOut,
    DeviceOut,
    ExecutedOut,
    PasskeyStatusIn,
    PasskeyTransferIn,
    RegisteredOut,
    SignedExecuteIn,
    SignedInOut,
    ToSignOut,
)
from registry.ownership.schemas import Address, StatusOut, TransferOut
from registry.settings import Settings
from registry.siwe.service import Player
from registry.webauthn.ceremonies import RelyingParty

router = APIRouter(tags=["owners"])
CredentialId = Annotated[str, Path(max_length=1400, pattern=r"^[A-Za-z0-9_-]+$")]


def _rp(settings: Settings) -> RelyingParty:
    return RelyingParty.of(settings.base_url)


def _passkey_owner(s: Session, player: Player) -> str:
    """The signed-in owner's account, if it is a passkey account registered here."""
    if not service.passkeys_of(s, player.address):
        raise Forbidden("the signed-in owner has no passkey here (sign in with a passkey)")
    return player.address


# ---------------------------------------------------------------- registration and sign-in


@router.post("/v1/owners/passkeys/options", response_model=CeremonyOut)
def registration_options(request: Request, engine: EngineDep, settings: SettingsDep) -> CeremonyOut:
    """Creation options for a new owner's passkey (resident key, user verification, ES256 only)."""
    ceremony = service.begin_registration(engine, _rp(settings), client=client_address(request))
    return CeremonyOut(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post("/v1/owners/passkeys", response_model=RegisteredOut, status_code=status.HTTP_201_CREATED)
def register(body: CeremonyIn, engine: EngineDep, settings: SettingsDep, chain: ChainDep) -> RegisteredOut:
    """Stores the passkey and answers its account (predicted: nothing is sent on chain) with a player
    session for it. Claim to `account` as to any address."""
    done = service.finish_registration(engine, _rp(settings), chain, settings, body.challenge_id, body.credential)
    assert done.signed_in is not None
    return RegisteredOut(
        account=done.account,
        credential_id=done.credential_id,
        synced=done.synced,
        token=done.signed_in.token,
        expires_at=done.signed_in.player.expires_at,
    )


@router.post("/v1/owners/sign-in/options", response_model=CeremonyOut)
def sign_in_options(request: Request, engine: EngineDep, settings: SettingsDep) -> CeremonyOut:
    """Request options for a usernameless sign-in (any of this site's passkeys)."""
    ceremony = service.begin_sign_in(engine, _rp(settings), client=client_address(request))
    return CeremonyOut(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post("/v1/owners/sign-in", response_model=SignedInOut)
def sign_in(
    body: CeremonyIn, request: Request, engine: EngineDep, settings: SettingsDep, chain: ChainDep
) -> SignedInOut:
    """A player session (Bearer tms_...) for the account whose passkey signed; refused when the chain
    no longer has the key as a signer of the account."""
    done = service.finish_sign_in(
        engine, _rp(settings), chain, settings, body.challenge_id, body.credential, client=client_address(request)
    )
    return SignedInOut(account=done.player.address, token=done.token, expires_at=done.player.expires_at)


# ---------------------------------------------------------------- a twin's transfer and status


@router.get("/v1/twins/{contract}/{token_id}/transfers/passkey", response_model=ToSignOut)
def transfer_to_sign(
    contract: str, token_id: TokenId, to: Annotated[Address, Query()], chain: ChainDep, s: SessionDep
) -> ToSignOut:
    """What the owner's passkey signs to transfer the twin to `to` (the owner must be a passkey account)."""
    return relay.transfer_to_sign(s, chain, checksum(contract), token_id, checksum(to))


@router.post(
    "/v1/twins/{contract}/{token_id}/transfers/passkey",
    response_model=TransferOut,
    responses=pending_answer(TransferOut),
)
def transfer(
    contract: str,
    token_id: TokenId,
    body: PasskeyTransferIn,
    request: Request,
    response: Response,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
) -> TransferOut:
    """Relays the transfer the owner's passkey signed, within the owner relays' quotas. 200 once mined,
    202 while pending."""
    out = relay.relay_transfer(
        s,
        chain,
        settings,
        _rp(settings),
        checksum(contract),
        token_id,
        client=client_address(request),
        to=checksum(body.to),
        nonce=body.nonce,
        deadline=body.deadline,
        credential=body.credential,
        account_nonce=body.account_nonce,
    )
    relayed(response, out.state)
    return out


@router.get("/v1/twins/{contract}/{token_id}/status/passkey", response_model=ToSignOut)
def status_to_sign(
    contract: str, token_id: TokenId, chain: ChainDep, s: SessionDep, status: Annotated[str, Query()]
) -> ToSignOut:
    """What the owner's passkey signs to report the twin lost, stolen, or found (`active`)."""
    return relay.status_to_sign(s, chain, checksum(contract), token_id, status)


@router.post(
    "/v1/twins/{contract}/{token_id}/status/passkey", response_model=StatusOut, responses=pending_answer(StatusOut)
)
def report_status(
    contract: str,
    token_id: TokenId,
    body: PasskeyStatusIn,
    request: Request,
    response: Response,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
) -> StatusOut:
    """Relays the owner's passkey-signed report. 200 once mined, 202 while pending."""
    out = relay.relay_status(
        s,
        chain,
        settings,
        _rp(settings),
        checksum(contract),
        token_id,
        client=client_address(request),
        status=body.status,
        nonce=body.nonce,
        deadline=body.deadline,
        credential=body.credential,
        account_nonce=body.account_nonce,
    )
    relayed(response, out.state)
    return out


# ---------------------------------------------------------------- devices


def _device_out(p: OwnerPasskey) -> DeviceOut:
    return DeviceOut(
        credential_id=p.credential_id,
        qx=p.qx,
        qy=p.qy,
        synced=p.backup_eligible,
        created_at=p.created_at,
        last_used_at=p.last_used_at,
    )


@router.get("/v1/owners/me/account", response_model=AccountOut)
def my_account(player: PlayerDep, chain: ChainDep, s: SessionDep) -> AccountOut:
    """What the page needs to sign a message for the passkey account (`window.twinmarkSign`): the chain
    id of its ERC-7739 domain and whether it is deployed (else the signature is wrapped for EIP-6492)."""
    account = _passkey_owner(s, player)
    return AccountOut(account=account, chain_id=chain.chain_id, deployed=chain.account_deployed(account))


@router.get("/v1/owners/me/passkeys", response_model=list[DeviceOut])
def my_passkeys(player: PlayerDep, s: SessionDep) -> list[DeviceOut]:
    """The signed-in owner's passkeys registered here (the chain says which still sign)."""
    return [_device_out(p) for p in service.passkeys_of(s, player.address)]


@router.post("/v1/owners/me/passkeys/options", response_model=CeremonyOut)
def device_options(
    request: Request, player: PlayerDep, engine: EngineDep, settings: SettingsDep, s: SessionDep
) -> CeremonyOut:
    """Creation options for another device's passkey for the signed-in owner's account."""
    account = _passkey_owner(s, player)
    ceremony = service.begin_registration(engine, _rp(settings), client=client_address(request), account=account)
    return CeremonyOut(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post("/v1/owners/me/passkeys", response_model=DeviceAddedOut, status_code=status.HTTP_201_CREATED)
def add_device(
    body: CeremonyIn, player: PlayerDep, engine: EngineDep, settings: SettingsDep, chain: ChainDep, s: SessionDep
) -> DeviceAddedOut:
    """Stores the new device's passkey and answers what an existing passkey signs to add it on chain;
    until that is relayed (POST .../signers) the new passkey cannot sign or sign in."""
    account = _passkey_owner(s, player)
    done = service.finish_registration(
        engine, _rp(settings), chain, settings, body.challenge_id, body.credential, account=account
    )
    to_sign = relay.device_to_sign(s, chain, account, done.credential_id, adding=True)
    return DeviceAddedOut(credential_id=done.credential_id, to_sign=to_sign)


def _device_relay(
    s: Session,
    chain: TwinmarkChain,
    settings: Settings,
    request: Request,
    player: Player,
    credential_id: str,
    body: SignedExecuteIn,
    *,
    adding: bool,
) -> ExecutedOut:
    return relay.relay_device(
        s,
        chain,
        settings,
        _rp(settings),
        _passkey_owner(s, player),
        credential_id,
        adding=adding,
        client=client_address(request),
        deadline=body.deadline,
        account_nonce=body.account_nonce,
        credential=body.credential,
    )


@router.post("/v1/owners/me/passkeys/{credential_id}/signers", response_model=ExecutedOut)
def add_signer(
    credential_id: CredentialId,
    body: SignedExecuteIn,
    request: Request,
    response: Response,
    player: PlayerDep,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
) -> ExecutedOut:
    """Relays `addSigners` for the new passkey, signed by another passkey of the account."""
    out = _device_relay(s, chain, settings, request, player, credential_id, body, adding=True)
    relayed(response, out.state)
    return out


@router.get("/v1/owners/me/passkeys/{credential_id}/removal", response_model=ToSignOut)
def removal_to_sign(credential_id: CredentialId, player: PlayerDep, chain: ChainDep, s: SessionDep) -> ToSignOut:
    """What another passkey of the account signs to remove this one (the account keeps at least one)."""
    return relay.device_to_sign(s, chain, _passkey_owner(s, player), credential_id, adding=False)


@router.post("/v1/owners/me/passkeys/{credential_id}/removal", response_model=ExecutedOut)
def remove_device(
    credential_id: CredentialId,
    body: SignedExecuteIn,
    request: Request,
    response: Response,
    player: PlayerDep,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
) -> ExecutedOut:
    """Relays `removeSigners` for this passkey, signed by another passkey of the account."""
    out = _device_relay(s, chain, settings, request, player, credential_id, body, adding=False)
    relayed(response, out.state)
    return out
