"""Owners' passkeys: registration (a new passkey account, predicted, nothing sent on chain),
usernameless sign-in issuing the player session every `PlayerDep` route takes, and adding a device
(a new credential whose key an existing passkey then adds to the account on chain: registry/owners/relay.py).

Ceremonies go through py_webauthn (registry/webauthn/ceremonies.py, shared with the console): the
relying party is `settings.base_url`, user verification is required, and only ES256 keys are
accepted, because the account verifies P-256 and nothing else. Sign-in also asks the chain whether
the key still signs for the account: a passkey removed on chain cannot sign in."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.cose import COSECRV, COSEAlgorithmIdentifier
from webauthn.helpers.decode_credential_public_key import DecodedEC2PublicKey, decode_credential_public_key
from webauthn.helpers.structs import CredentialDeviceType

from registry.db import ratelimit
from registry.db.columns import utcnow
from registry.db.engine import session_scope
from registry.db.ratelimit import Limit
from registry.owners.chain import PasskeyChain
from registry.owners.errors import PasskeyRefused, SignInRefused
from registry.owners.models import OwnerChallenge, OwnerPasskey
from registry.settings import Settings
from registry.siwe.service import SignedIn, open_session
from registry.webauthn import challenges
from registry.webauthn.ceremonies import (
    Ceremony,
    CeremonyFailed,
    RelyingParty,
    authentication_options,
    check_assertion,
    check_registration,
    credential_id,
    registration_options,
    transports,
    user_handle,
)

RP_NAME = "Twinmark"
USER_NAME = "Twinmark owner"  # what passkey managers list; never a person's name or address
ES256 = [COSEAlgorithmIdentifier.ECDSA_SHA_256]
CHALLENGES = Limit("owner-challenges:client", 60, timedelta(minutes=1), "owner passkey ceremonies from this client")
SIGN_IN_FAILURES = Limit(
    "owner-sign-in-failures:client", 10, timedelta(minutes=15), "refused owner sign-ins from this client", 1000
)


@dataclass(frozen=True)
class Registered:
    account: str
    credential_id: str
    synced: bool  # backup eligible: the passkey follows an Apple or Google account
    signed_in: SignedIn | None  # a new owner is signed in; an added device is not a sign-in


def _key(cose: bytes) -> tuple[bytes, bytes]:
    """(x, y) of a P-256 COSE key; refused otherwise (the account verifies nothing else)."""
    try:
        key = decode_credential_public_key(cose)
    except Exception as exc:
        raise PasskeyRefused(f"the passkey's public key is unreadable: {exc}") from None
    if not isinstance(key, DecodedEC2PublicKey) or key.crv != COSECRV.P256 or len(key.x) != 32 or len(key.y) != 32:
        raise PasskeyRefused("only P-256 (ES256) passkeys can own a twin")
    return key.x, key.y


def begin_registration(engine: Engine, rp: RelyingParty, *, client: str, account: str | None = None) -> Ceremony:
    """Creation options for a new owner (`account` None) or a new device of `account`, whose
    existing credentials are excluded (the same authenticator would only replace one)."""
    handle = secrets.token_bytes(32)
    exclude: list[bytes] = []
    if account is not None:
        with session_scope(engine) as s:
            exclude = [base64url_to_bytes(p.credential_id) for p in passkeys_of(s, account)]
    options = registration_options(rp, RP_NAME, USER_NAME, handle, algorithms=ES256, exclude=exclude)
    purpose = "register" if account is None else "add-device"
    challenge_id = challenges.new_challenge(
        engine,
        OwnerChallenge,
        CHALLENGES,
        client,
        purpose,
        options.challenge,
        account=account,
        user_handle=bytes_to_base64url(handle),
    )
    return Ceremony(challenge_id, options.json)


def finish_registration(
    engine: Engine,
    rp: RelyingParty,
    chain: PasskeyChain,
    settings: Settings,
    challenge_id: str,
    credential: dict[str, Any],
    *,
    account: str | None = None,
) -> Registered:
    """Stores the passkey. A new owner's account is the one its key predicts, and they are signed
    in; a device added to `account` is stored for it, to sign once an existing passkey added it on chain."""
    purpose = "register" if account is None else "add-device"
    challenge = challenges.spend_challenge(engine, OwnerChallenge, challenge_id, purpose)
    if challenge is None or challenge.account != account or challenge.user_handle is None:
        raise PasskeyRefused("this registration expired or was already used; try again")
    try:
        verified = check_registration(rp, challenge.challenge, credential, algorithms=ES256)
    except CeremonyFailed as exc:
        raise PasskeyRefused(f"the passkey was refused: {exc}") from None
    qx, qy = _key(verified.credential_public_key)
    owner = account if account is not None else chain.passkey_account(qx, qy)
    cid = bytes_to_base64url(verified.credential_id)
    with session_scope(engine) as s:
        if s.get(OwnerPasskey, cid) is not None:
            raise PasskeyRefused("this passkey is already registered")
        s.add(
            OwnerPasskey(
                credential_id=cid,
                account=owner,
                user_handle=challenge.user_handle,
                qx=qx.hex(),
                qy=qy.hex(),
                cose_key=bytes_to_base64url(verified.credential_public_key),
                sign_count=verified.sign_count,
                aaguid=verified.aaguid,
                backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
                backup_state=verified.credential_backed_up,
                transports=transports(credential),
            )
        )
        signed_in = None
        if account is None:
            signed_in = open_session(
                s, owner, chain.chain_id, None, "passkey", time.time() + settings.siwe_session_seconds
            )
    synced = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    return Registered(account=owner, credential_id=cid, synced=synced, signed_in=signed_in)


def passkeys_of(s: Session, account: str) -> list[OwnerPasskey]:
    return list(s.exec(select(OwnerPasskey).where(col(OwnerPasskey.account) == account)))


def begin_sign_in(engine: Engine, rp: RelyingParty, *, client: str) -> Ceremony:
    options = authentication_options(rp)
    challenge_id = challenges.new_challenge(engine, OwnerChallenge, CHALLENGES, client, "sign-in", options.challenge)
    return Ceremony(challenge_id, options.json)


def finish_sign_in(
    engine: Engine,
    rp: RelyingParty,
    chain: PasskeyChain,
    settings: Settings,
    challenge_id: str,
    credential: dict[str, Any],
    *,
    client: str,
) -> SignedIn:
    """A player session for the account whose passkey signed this challenge. A refusal counts against
    the client's network (committed though the request fails); too many are answered 429 first."""
    with session_scope(engine) as s:
        ratelimit.check_failures(s, SIGN_IN_FAILURES, client)
    try:
        challenge = challenges.spend_challenge(engine, OwnerChallenge, challenge_id, "sign-in")
        if challenge is None:
            raise SignInRefused("this sign-in expired or was already used; try again")
        with session_scope(engine) as s:
            passkey = checked_assertion(s, rp, base64url_to_bytes(challenge.challenge), credential, SignInRefused)
            if not chain.account_has_signer(passkey.account, bytes.fromhex(passkey.qx), bytes.fromhex(passkey.qy)):
                raise SignInRefused("this passkey does not sign for its account on chain (removed, or not added yet)")
            expires = time.time() + settings.siwe_session_seconds
            return open_session(s, passkey.account, chain.chain_id, None, "passkey", expires)
    except SignInRefused:
        with session_scope(engine) as s:
            ratelimit.count(s, [(SIGN_IN_FAILURES, client)])
        raise


def checked_assertion(
    s: Session,
    rp: RelyingParty,
    challenge: bytes,
    credential: dict[str, Any],
    refusal: type[SignInRefused] | type[PasskeyRefused],
) -> OwnerPasskey:
    """The stored passkey that signed `challenge` in `credential` (origin, RP id, UV and the counter
    checked by py_webauthn), its counter moved in `s`; `refusal` otherwise."""
    raw_id = credential_id(credential)
    passkey = s.get(OwnerPasskey, raw_id) if raw_id is not None else None
    if passkey is None:
        raise refusal("this passkey is not registered here")
    handle = user_handle(credential)
    if handle is not None and handle != passkey.user_handle:
        raise refusal("the passkey's user does not match")
    try:
        verified = check_assertion(rp, challenge, credential, base64url_to_bytes(passkey.cose_key), passkey.sign_count)
    except CeremonyFailed as exc:
        raise refusal(f"the passkey's answer was refused: {exc}") from None
    # Compare-and-set: two answers racing with the same count (a clone) cannot both move it.
    moved = s.execute(
        update(OwnerPasskey)
        .where(
            col(OwnerPasskey.credential_id) == passkey.credential_id,
            col(OwnerPasskey.sign_count) == passkey.sign_count,
        )
        .values(sign_count=verified.new_sign_count, last_used_at=utcnow(), backup_state=verified.credential_backed_up)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise refusal("the passkey's counter went backwards")
    return passkey
