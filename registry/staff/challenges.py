"""Single-use, short-lived challenges of the console's sign-in ceremonies (passkeys and wallets), in
`staff_challenges`; the store itself is shared with owners' passkeys (registry/webauthn/challenges.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from registry.db.ratelimit import Limit
from registry.staff.models import StaffChallenge
from registry.webauthn import challenges
from registry.webauthn.challenges import LIFE

__all__ = ["CHALLENGES", "LIFE", "new_challenge", "spend_challenge"]

# Challenges are rows: a client asking for them without end would fill a table.
CHALLENGES = Limit("console-challenges:client", 60, timedelta(minutes=1), "console sign-in attempts from this client")


def new_challenge(
    engine: Engine,
    client: str,
    purpose: str,
    challenge: str,
    *,
    invite_id: str | None = None,
    staff_id: str | None = None,
) -> str:
    """Stores `challenge` (base64url, or a SIWE nonce) for one ceremony; its id."""
    return challenges.new_challenge(
        engine, StaffChallenge, CHALLENGES, client, purpose, challenge, invite_id=invite_id, staff_id=staff_id
    )


def spend_challenge(engine: Engine, challenge_id: str, purpose: str) -> StaffChallenge | None:
    """The challenge, now spent; None if unknown, spent before, expired or for another ceremony."""
    return challenges.spend_challenge(engine, StaffChallenge, challenge_id, purpose)
