"""Actions a passkey signs for its account, relayed and paid for by the service: a twin's transfer,
the owner's status report, and adding or removing a device (a signer of the account).

Each has two steps. First the service says what to sign (`ToSignOut`: the chain's digest for the
action and the fields it is made of; the page recomputes it before asking the passkey). Then the
assertion comes back: py_webauthn checks it against the stored key (origin, RP id, user
verification, the counter) as a pre-flight, the key must belong to the account that owns the twin
and still sign for it on chain, and the relay goes out under the owner relays' quotas
(registry/ownership/service.py). The account contract is the authority; the pre-flight refuses
junk before a simulation is paid for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from webauthn.helpers import base64url_to_bytes

from registry.chain import passkeys
from registry.chain.client import TwinmarkChain
from registry.chain.layout import Status
from registry.chain.owner_accounts import Call, PasskeyChallenge
from registry.chain.refusals import StaleNonce
from registry.owners.errors import NoOtherPasskey, NoPasskeyAccount, NotTheOwnersPasskey, PasskeyRefused
from registry.owners.models import OwnerPasskey
from registry.owners.schemas import CallOut, ExecutedOut, ToSignOut
from registry.owners.service import checked_assertion, passkeys_of
from registry.ownership.schemas import StatusOut, TransferOut
from registry.ownership.service import SIGNATURE_TTL, live_twin, paid_relay
from registry.settings import Settings
from registry.webauthn.ceremonies import RelyingParty


def _to_sign(
    s: Session,
    chain: TwinmarkChain,
    account: str,
    challenge: PasskeyChallenge,
    deadline: int,
    *,
    nonce: int | None = None,
    calls: list[Call] | None = None,
    exclude: str | None = None,
) -> ToSignOut:
    allowed = [p.credential_id for p in passkeys_of(s, account) if p.credential_id != exclude]
    if not allowed and exclude is not None:
        raise NoOtherPasskey("add another passkey first: this one is the account's only passkey here")
    if not allowed:
        raise NoPasskeyAccount(f"{account} has no passkey registered here")
    return ToSignOut(
        path=challenge.path,
        challenge="0x" + challenge.digest.hex(),
        account=account,
        chain_id=chain.chain_id,
        deadline=deadline,
        nonce=nonce,
        account_nonce=challenge.account_nonce,
        calls=[CallOut(to=t, value=v, data="0x" + d.hex()) for t, v, d in calls or []],
        allow_credentials=allowed,
        verifier=chain.owner_contracts.verifier,
    )


def _auth(credential: dict[str, Any]) -> bytes:
    """The flat WebAuthnAuth the account checks, from the assertion's own bytes (never re-serialised)."""
    response = credential.get("response")
    try:
        assert isinstance(response, dict)
        client_data = base64url_to_bytes(response["clientDataJSON"])
        r, s = passkeys.der_signature(base64url_to_bytes(response["signature"]))
        return passkeys.webauthn_auth(r, s, base64url_to_bytes(response["authenticatorData"]), client_data)
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise PasskeyRefused(f"the passkey's answer is malformed: {exc}") from None


def _signer(
    s: Session, rp: RelyingParty, chain: TwinmarkChain, account: str, digest: bytes, credential: dict[str, Any]
) -> tuple[OwnerPasskey, bytes]:
    """The account's passkey that signed `digest`, checked (see the module), and its WebAuthnAuth."""
    passkey = checked_assertion(s, rp, digest, credential, PasskeyRefused)
    if passkey.account.lower() != account.lower():
        raise NotTheOwnersPasskey(f"this passkey signs for {passkey.account}, not for {account}")
    if not chain.account_has_signer(account, bytes.fromhex(passkey.qx), bytes.fromhex(passkey.qy)):
        raise NotTheOwnersPasskey("this passkey does not sign for the account on chain (removed, or not added yet)")
    return passkey, _auth(credential)


def _same_account_nonce(challenge: PasskeyChallenge, signed: int | None) -> None:
    """On the execute path the passkey signed the account's nonce: an outdated one is named as such
    (rather than as an assertion over another challenge)."""
    if challenge.account_nonce is not None and signed is not None and signed != challenge.account_nonce:
        raise StaleNonce(f"signed for account nonce {signed}; the account is at {challenge.account_nonce}")


def _key(p: OwnerPasskey) -> tuple[bytes, bytes]:
    return bytes.fromhex(p.qx), bytes.fromhex(p.qy)


def _status_code(status: str) -> int:
    if status not in ("lost", "stolen", "active"):
        raise PasskeyRefused("status must be lost, stolen or active (found again after a loss)")
    return int(Status[status])


# ---------------------------------------------------------------- a twin's transfer and status


def transfer_to_sign(s: Session, chain: TwinmarkChain, contract: str, token_id: int, to: str) -> ToSignOut:
    twin = live_twin(chain, contract, token_id, to_move=True)
    deadline = int(time.time()) + SIGNATURE_TTL
    challenge = chain.passkey_transfer_digest(contract, token_id, twin.owner, to, twin.nonce, deadline)
    return _to_sign(s, chain, twin.owner, challenge, deadline, nonce=twin.nonce)


def _relay_twin_action(
    s: Session,
    chain: TwinmarkChain,
    settings: Settings,
    rp: RelyingParty,
    contract: str,
    token_id: int,
    *,
    client: str,
    nonce: int,
    deadline: int,
    credential: dict[str, Any],
    account_nonce: int | None,
    digest: Callable[[str], PasskeyChallenge],
    relay: Callable[[str, bytes, bytes, PasskeyChallenge, bytes], str],
    to_move: bool,
) -> tuple[str, str]:
    """A twin's owner account acting by passkey (a transfer, a status report): the twin's nonce and the
    account's checked, the passkey checked (see the module), the relay paid under the owner quotas.
    `digest(owner)` is the chain's challenge; `relay(owner, qx, qy, challenge, auth)` sends it. The
    owner and the transaction hash come back."""
    twin = live_twin(chain, contract, token_id, to_move=to_move, nonce=nonce)
    challenge = digest(twin.owner)
    _same_account_nonce(challenge, account_nonce)
    passkey, auth = _signer(s, rp, chain, twin.owner, challenge.digest, credential)
    qx, qy = _key(passkey)
    tx_hash = paid_relay(
        s,
        settings,
        lambda: relay(twin.owner, qx, qy, challenge, auth),
        signer=twin.owner,  # py_webauthn verified the account's own passkey: counted as the owner's
        client=client,
        owner=twin.owner,
        contract=contract,
        token_id=token_id,
    )
    return twin.owner, tx_hash


def relay_transfer(
    s: Session,
    chain: TwinmarkChain,
    settings: Settings,
    rp: RelyingParty,
    contract: str,
    token_id: int,
    *,
    client: str,
    to: str,
    nonce: int,
    deadline: int,
    credential: dict[str, Any],
    account_nonce: int | None = None,
) -> TransferOut:
    owner, tx_hash = _relay_twin_action(
        s,
        chain,
        settings,
        rp,
        contract,
        token_id,
        client=client,
        nonce=nonce,
        deadline=deadline,
        credential=credential,
        account_nonce=account_nonce,
        digest=lambda owner: chain.passkey_transfer_digest(contract, token_id, owner, to, nonce, deadline),
        relay=lambda owner, qx, qy, challenge, auth: chain.relay_passkey_transfer(
            contract, token_id, owner, qx, qy, to, nonce, deadline, challenge, auth
        ),
        to_move=True,
    )
    return TransferOut(
        contract=contract,
        token_id=token_id,
        owner=to,
        tx_hash=tx_hash,
        state=chain.relay_state(tx_hash),
        **{"from": owner},
    )


def status_to_sign(s: Session, chain: TwinmarkChain, contract: str, token_id: int, status: str) -> ToSignOut:
    code = _status_code(status)
    twin = live_twin(chain, contract, token_id)
    deadline = int(time.time()) + SIGNATURE_TTL
    challenge = chain.passkey_status_digest(contract, token_id, twin.owner, code, twin.nonce, deadline)
    return _to_sign(s, chain, twin.owner, challenge, deadline, nonce=twin.nonce)


def relay_status(
    s: Session,
    chain: TwinmarkChain,
    settings: Settings,
    rp: RelyingParty,
    contract: str,
    token_id: int,
    *,
    client: str,
    status: str,
    nonce: int,
    deadline: int,
    credential: dict[str, Any],
    account_nonce: int | None = None,
) -> StatusOut:
    code = _status_code(status)
    _, tx_hash = _relay_twin_action(
        s,
        chain,
        settings,
        rp,
        contract,
        token_id,
        client=client,
        nonce=nonce,
        deadline=deadline,
        credential=credential,
        account_nonce=account_nonce,
        digest=lambda owner: chain.passkey_status_digest(contract, token_id, owner, code, nonce, deadline),
        relay=lambda owner, qx, qy, challenge, auth: chain.relay_passkey_status(
            contract, token_id, owner, qx, qy, code, nonce, deadline, challenge, auth
        ),
        to_move=False,
    )
    return StatusOut(
        contract=contract, token_id=token_id, status=status, tx_hash=tx_hash, state=chain.relay_state(tx_hash)
    )


# ---------------------------------------------------------------- devices (the account's signers)


def _device(s: Session, account: str, credential_id: str) -> OwnerPasskey:
    found = s.get(OwnerPasskey, credential_id)
    if found is None or found.account.lower() != account.lower():
        raise NoPasskeyAccount("no such passkey on this account")
    return found


def _device_call(chain: TwinmarkChain, account: str, device: OwnerPasskey, adding: bool) -> Call:
    qx, qy = _key(device)
    return chain.add_signer_call(account, qx, qy) if adding else chain.remove_signer_call(account, qx, qy)


def device_to_sign(
    s: Session, chain: TwinmarkChain, account: str, credential_id: str, *, adding: bool, deadline: int | None = None
) -> ToSignOut:
    """What another passkey of `account` signs to add (or remove) the passkey `credential_id`."""
    device = _device(s, account, credential_id)
    deadline = deadline or int(time.time()) + SIGNATURE_TTL
    calls = [_device_call(chain, account, device, adding)]
    challenge = chain.passkey_execute_digest(account, calls, deadline)
    return _to_sign(s, chain, account, challenge, deadline, calls=calls, exclude=credential_id)


def relay_device(
    s: Session,
    chain: TwinmarkChain,
    settings: Settings,
    rp: RelyingParty,
    account: str,
    credential_id: str,
    *,
    adding: bool,
    client: str,
    deadline: int,
    account_nonce: int,
    credential: dict[str, Any],
) -> ExecutedOut:
    device = _device(s, account, credential_id)
    calls = [_device_call(chain, account, device, adding)]
    challenge = chain.passkey_execute_digest(account, calls, deadline)
    _same_account_nonce(challenge, account_nonce)
    passkey, auth = _signer(s, rp, chain, account, challenge.digest, credential)
    if passkey.credential_id == credential_id:
        raise PasskeyRefused("another passkey of the account signs this, not the one being changed")
    qx, qy = _key(passkey)
    tx_hash = paid_relay(
        s,
        settings,
        lambda: chain.relay_passkey_execute(account, qx, qy, calls, deadline, challenge, auth),
        signer=account,
        client=client,
        owner=account,
        contract=account,
        token_id=0,
    )
    if not adding:
        s.delete(device)  # the chain is the authority; the row only lets the key sign in here
    return ExecutedOut(account=account, tx_hash=tx_hash, state=chain.relay_state(tx_hash))
