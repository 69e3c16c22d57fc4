"""Single-use, short-lived challenges of the console's sign-in ceremonies (passkeys and wallets).

They are rows, not cookies: any process can check one, and each is spent in its own transaction
before the answer to it is checked, so a ceremony whose check then fails has still used it and a
replayed answer finds it spent."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import Engine, delete, update
from sqlmodel import col

from registry.db import ratelimit
from registry.db.columns import utcnow
from registry.db.engine import session_scope
from registry.db.ratelimit import Limit
from registry.staff.models import StaffChallenge

LIFE = timedelta(minutes=5)
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
    with session_scope(engine) as s:
        ratelimit.hit(s, [(CHALLENGES, client)])
        # Old challenges go as new ones come: the table stays the size of what is live (kept an hour
        # past expiry, so a late replay still finds its challenge spent rather than unknown).
        s.execute(delete(StaffChallenge).where(col(StaffChallenge.expires_at) < utcnow() - timedelta(hours=1)))
        row = StaffChallenge(
            id=secrets.token_urlsafe(16),
            challenge=challenge,
            purpose=purpose,
            expires_at=utcnow() + LIFE,
            invite_id=invite_id,
            staff_id=staff_id,
        )
        s.add(row)
        return row.id


def spend_challenge(engine: Engine, challenge_id: str, purpose: str) -> StaffChallenge | None:
    """The challenge, now spent; None if unknown, spent before, expired or for another ceremony."""
    if not isinstance(challenge_id, str) or len(challenge_id) > 64:
        return None
    with session_scope(engine) as s:
        done = s.execute(
            update(StaffChallenge)
            .where(
                col(StaffChallenge.id) == challenge_id,
                col(StaffChallenge.purpose) == purpose,
                col(StaffChallenge.used_at).is_(None),
                col(StaffChallenge.expires_at) > utcnow(),
            )
            .values(used_at=utcnow())
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return None
        found = s.get(StaffChallenge, challenge_id)
        assert found is not None
        s.expunge(found)
        return found
