"""A secret the console shows once after a form (a new API key, a webhook's signing secret), read by
the page the form redirects to (Post/Redirect/Get) instead of riding in the form's answer: reloading
that answer would post the form again and make a second key or webhook.

Between the two requests the secret is a single-use row of `staff_challenges` (the table of the
console's other single-use, short-lived values; purpose `reveal`), sealed (AES-256-GCM) under the
server key and bound to the row and to the member who made it. The first read by that member spends
the row and blanks the sealed copy in the same UPDATE's transaction; a reload, a second tab or another
member finds it spent or unknown and shows nothing. An unread secret expires in minutes and its row
goes with the other stale challenges."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col

from registry.auth.vault import seal, unseal
from registry.db.columns import utcnow
from registry.errors import Forbidden
from registry.staff.models import StaffChallenge

PURPOSE = "reveal"
LIFE = timedelta(minutes=5)


@dataclass(frozen=True)
class Revealed:
    kind: str  # "key" or "webhook"
    target: str  # the key's prefix, the webhook's id
    secret: str


def _salt(row_id: str, staff_id: str) -> str:
    return f"console-reveal:{row_id}:{staff_id}"


def hold(s: Session, server_key: str, staff_id: str, kind: str, target: str, secret: str) -> str:
    """Keeps `secret` for one read by `staff_id` in the caller's transaction; the id to read it by."""
    stale = col(StaffChallenge.purpose) == PURPOSE, col(StaffChallenge.expires_at) < utcnow()
    s.execute(delete(StaffChallenge).where(*stale))  # unread ones: the table keeps only what is live
    row_id = secrets.token_urlsafe(16)
    plain = json.dumps({"kind": kind, "target": target, "secret": secret}).encode()
    s.add(
        StaffChallenge(
            id=row_id,
            challenge=seal(server_key, _salt(row_id, staff_id), plain),
            purpose=PURPOSE,
            staff_id=staff_id,
            expires_at=utcnow() + LIFE,
        )
    )
    return row_id


def take(s: Session, server_key: str, staff_id: str, row_id: str) -> Revealed | None:
    """The secret, once: None when the id is unknown, spent, expired or another member's."""
    if len(row_id) > 64:
        return None
    row = s.get(StaffChallenge, row_id)
    if row is None or row.purpose != PURPOSE or row.staff_id != staff_id:
        return None
    sealed = row.challenge
    # Spent only if still unspent: of two reads racing, the database lets one UPDATE match.
    spent = s.execute(
        update(StaffChallenge)
        .where(
            col(StaffChallenge.id) == row_id,
            col(StaffChallenge.used_at).is_(None),
            col(StaffChallenge.expires_at) > utcnow(),
        )
        .values(used_at=utcnow(), challenge="")
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount or not sealed:  # type: ignore[attr-defined]
        return None
    try:
        held = json.loads(unseal(server_key, _salt(row_id, staff_id), sealed))
    except Forbidden:  # sealed under another server key: nothing to show
        return None
    return Revealed(held["kind"], held["target"], held["secret"])
