"""Passkeys (WebAuthn, through py_webauthn): registration from an invite, and usernameless sign-in
with a discoverable credential. The relying party is `settings.base_url`: its host is the RP id, its
origin the only origin accepted. User verification is required both times.

Challenges are single-use rows (registry/staff/challenges.py): a replayed assertion finds its challenge spent.

Sign counts: an assertion whose count does not exceed the stored one is refused (a cloned
authenticator), except when both are 0: synced passkeys (iCloud Keychain, Google Password Manager)
always report 0, and the WebAuthn spec reads 0 as "no counter". Those rely on user verification and
the single-use challenge alone."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, update
from sqlmodel import col
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from registry.db import ratelimit
from registry.db.columns import utcnow
from registry.db.engine import session_scope
from registry.db.ratelimit import Limit
from registry.errors import BadRequest, Unauthenticated
from registry.staff import audit
from registry.staff.challenges import new_challenge, spend_challenge
from registry.staff.invites import live_invite, spend
from registry.staff.models import StaffMember, StaffPasskey, StaffRole
from registry.staff.service import create_staff

RP_NAME = "Twinmark console"

# Sign-in ceremonies refused per client network; the ceiling stops only networks refused before.
SIGN_IN_FAILURES = Limit(
    "console-sign-in-failures:client", 10, timedelta(minutes=15), "refused console sign-ins from this client", 1000
)


class PasskeyRefused(BadRequest):
    code, title = "console-passkey-refused", "The passkey was not accepted"


class SignInRefused(Unauthenticated):
    code, title = "console-sign-in-refused", "Sign-in refused"


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host of base_url
    origin: str  # scheme://host[:port]

    @classmethod
    def of(cls, base_url: str) -> RelyingParty:
        parts = urlsplit(base_url)
        return cls(id=parts.hostname or "localhost", origin=f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class Ceremony:
    challenge_id: str
    options: dict[str, Any]  # PublicKeyCredential{Creation,Request}OptionsJSON, for parse*FromJSON


# ---------------------------------------------------------------- registration (from an invite)


def begin_registration(engine: Engine, rp: RelyingParty, invite_id: str, secret: str, *, client: str) -> Ceremony:
    with session_scope(engine) as s:
        invite = live_invite(s, invite_id, secret)
        name = invite.name
    staff_id = str(uuid.uuid4())  # the user handle the passkey will carry; the member gets this id
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_name=name,
        user_id=staff_id.encode(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,  # discoverable: sign-in asks for no name
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    challenge_id = new_challenge(
        engine, client, "register", bytes_to_base64url(options.challenge), invite_id=invite_id, staff_id=staff_id
    )
    return Ceremony(challenge_id, json.loads(options_to_json(options)))


def finish_registration(
    engine: Engine, rp: RelyingParty, invite_id: str, secret: str, challenge_id: str, credential: dict[str, Any]
) -> StaffMember:
    """The new member, with their passkey; the invite is spent in the same transaction."""
    challenge = spend_challenge(engine, challenge_id, "register")
    if challenge is None or challenge.invite_id != invite_id or challenge.staff_id is None:
        raise PasskeyRefused("this registration expired; reload the page and try again")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyRefused(f"the passkey was refused: {exc}") from None
    response = credential.get("response")
    transports = response.get("transports") if isinstance(response, dict) else None
    with session_scope(engine) as s:
        invite = live_invite(s, invite_id, secret)
        spend(s, invite, challenge.staff_id)
        member = create_staff(
            s,
            invite.brand_id,
            invite.name,
            StaffRole(invite.role),
            created_by=invite.created_by,
            staff_id=challenge.staff_id,
        )
        s.add(
            StaffPasskey(
                id=bytes_to_base64url(verified.credential_id),
                staff_id=member.id,
                public_key=bytes_to_base64url(verified.credential_public_key),
                sign_count=verified.sign_count,
                transports=",".join(t for t in transports if isinstance(t, str))[:200]
                if isinstance(transports, list)
                else None,
                aaguid=verified.aaguid,
            )
        )
        audit.record_as(s, member.brand_id, member.name, "staff.join", staff_id=member.id, target=invite.id)
        s.flush()
        s.expunge(member)
        return member


# ---------------------------------------------------------------- sign-in (usernameless)


def begin_sign_in(engine: Engine, rp: RelyingParty, *, client: str) -> Ceremony:
    options = generate_authentication_options(rp_id=rp.id, user_verification=UserVerificationRequirement.REQUIRED)
    challenge_id = new_challenge(engine, client, "sign-in", bytes_to_base64url(options.challenge))
    return Ceremony(challenge_id, json.loads(options_to_json(options)))


def finish_sign_in(
    engine: Engine, rp: RelyingParty, challenge_id: str, credential: dict[str, Any], *, client: str
) -> StaffMember:
    """The member whose passkey signed this challenge. A refusal counts against the client's network
    (committed even though the request fails), and too many refusals are answered 429 first."""
    with session_scope(engine) as s:
        ratelimit.check_failures(s, SIGN_IN_FAILURES, client)
    try:
        return _sign_in(engine, rp, challenge_id, credential)
    except SignInRefused:
        with session_scope(engine) as s:
            ratelimit.count(s, [(SIGN_IN_FAILURES, client)])
        raise


def _sign_in(engine: Engine, rp: RelyingParty, challenge_id: str, credential: dict[str, Any]) -> StaffMember:
    challenge = spend_challenge(engine, challenge_id, "sign-in")
    if challenge is None:
        raise SignInRefused("this sign-in expired or was already used; try again")
    raw_id = credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(raw_id, str) or len(raw_id) > 1400:
        raise SignInRefused("no passkey in the answer")
    with session_scope(engine) as s:
        passkey = s.get(StaffPasskey, raw_id)
        member = s.get(StaffMember, passkey.staff_id) if passkey else None
        if passkey is None or member is None or member.disabled_at is not None:
            raise SignInRefused("this passkey belongs to no member of staff")
        response = credential.get("response")
        handle = response.get("userHandle") if isinstance(response, dict) else None
        if handle is not None and handle != bytes_to_base64url(member.id.encode()):
            raise SignInRefused("the passkey's user does not match")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge.challenge),
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise SignInRefused(f"the passkey's answer was refused: {exc}") from None
        # Compare-and-set: two sign-ins racing with the same count (a clone) cannot both move it.
        moved = s.execute(
            update(StaffPasskey)
            .where(col(StaffPasskey.id) == passkey.id, col(StaffPasskey.sign_count) == passkey.sign_count)
            .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
        )
        if not moved.rowcount:  # type: ignore[attr-defined]
            raise SignInRefused("the passkey's counter went backwards")
        s.expunge(member)
        return member
