"""Passkeys (WebAuthn, through py_webauthn): registration from an invite, and usernameless sign-in
with a discoverable credential. The relying party and the py_webauthn calls are
shared with owners' passkeys (registry/webauthn/ceremonies.py).

Challenges are single-use rows (registry/staff/challenges.py): a replayed assertion finds its challenge spent.

Sign counts: an assertion whose count does not exceed the stored one is refused (a cloned
authenticator), except when both are 0: synced passkeys (iCloud Keychain, Google Password Manager)
always report 0, and the WebAuthn spec reads 0 as "no counter". Those rely on user verification and
the single-use challenge alone."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import col
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

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

__all__ = ["Ceremony", "RelyingParty", "begin_registration", "begin_sign_in", "finish_registration", "finish_sign_in"]

RP_NAME = "Twinmark console"

# Sign-in ceremonies refused per client network; the ceiling stops only networks refused before.
SIGN_IN_FAILURES = Limit(
    "console-sign-in-failures:client", 10, timedelta(minutes=15), "refused console sign-ins from this client", 1000
)


class PasskeyRefused(BadRequest):
    code, title = "console-passkey-refused", "The passkey was not accepted"


class SignInRefused(Unauthenticated):
    code, title = "console-sign-in-refused", "Sign-in refused"


# ---------------------------------------------------------------- registration (from an invite)


def begin_registration(engine: Engine, rp: RelyingParty, invite_id: str, secret: str, *, client: str) -> Ceremony:
    with session_scope(engine) as s:
        invite = live_invite(s, invite_id, secret)
        name = invite.name
    staff_id = str(uuid.uuid4())  # the user handle the passkey will carry; the member gets this id
    options = registration_options(rp, RP_NAME, name, staff_id.encode())
    challenge_id = new_challenge(engine, client, "register", options.challenge, invite_id=invite_id, staff_id=staff_id)
    return Ceremony(challenge_id, options.json)


def finish_registration(
    engine: Engine, rp: RelyingParty, invite_id: str, secret: str, challenge_id: str, credential: dict[str, Any]
) -> StaffMember:
    """The new member, with their passkey; the invite is spent in the same transaction."""
    challenge = spend_challenge(engine, challenge_id, "register")
    if challenge is None or challenge.invite_id != invite_id or challenge.staff_id is None:
        raise PasskeyRefused("this registration expired; reload the page and try again")
    try:
        verified = check_registration(rp, challenge.challenge, credential)
    except CeremonyFailed as exc:
        raise PasskeyRefused(f"the passkey was refused: {exc}") from None
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
                transports=transports(credential),
                aaguid=verified.aaguid,
            )
        )
        audit.record_as(s, member.brand_id, member.name, "staff.join", staff_id=member.id, target=invite.id)
        s.flush()
        s.expunge(member)
        return member


# ---------------------------------------------------------------- sign-in (usernameless)


def begin_sign_in(engine: Engine, rp: RelyingParty, *, client: str) -> Ceremony:
    options = authentication_options(rp)
    challenge_id = new_challenge(engine, client, "sign-in", options.challenge)
    return Ceremony(challenge_id, options.json)


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
    raw_id = credential_id(credential)
    if raw_id is None:
        raise SignInRefused("no passkey in the answer")
    with session_scope(engine) as s:
        passkey = s.get(StaffPasskey, raw_id)
        member = s.get(StaffMember, passkey.staff_id) if passkey else None
        if passkey is None or member is None or member.disabled_at is not None:
            raise SignInRefused("this passkey belongs to no member of staff")
        handle = user_handle(credential)
        if handle is not None and handle != bytes_to_base64url(member.id.encode()):
            raise SignInRefused("the passkey's user does not match")
        try:
            verified = check_assertion(
                rp,
                base64url_to_bytes(challenge.challenge),
                credential,
                base64url_to_bytes(passkey.public_key),
                passkey.sign_count,
            )
        except CeremonyFailed as exc:
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
