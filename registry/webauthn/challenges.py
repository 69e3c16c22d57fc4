"""Single-use, short-lived ceremony challenges, stored as rows (the staff's and the owners' tables).

They are rows, not cookies: any process can check one, and each is spent in its own transaction
before the answer to it is checked, so a ceremony whose check then fails has still used it and a
replayed answer finds it spent. A table is any SQLModel with `id`, `challenge`, `purpose`,
`expires_at` and `used_at` columns."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, update
from sqlmodel import SQLModel

from registry.db import ratelimit
from registry.db.columns import utcnow
from registry.db.engine import session_scope
from registry.db.ratelimit import Limit

LIFE = timedelta(minutes=5)
Row = TypeVar("Row", bound=SQLModel)


def new_challenge(
    engine: Engine, model: type[Row], limit: Limit, client: str, purpose: str, challenge: str, **extra: Any
) -> str:
    """Stores `challenge` (base64url, or a SIWE nonce) for one ceremony, with the table's `extra`
    columns; its id. Counted against `limit` per client: challenges are rows, and a client asking
    for them without end would fill a table."""
    table: Any = model  # the columns are the protocol's, not known to the type checker
    with session_scope(engine) as s:
        ratelimit.hit(s, [(limit, client)])
        # Old challenges go as new ones come: the table stays the size of what is live (kept an hour
        # past expiry, so a late replay still finds its challenge spent rather than unknown).
        s.execute(delete(model).where(table.expires_at < utcnow() - timedelta(hours=1)))
        row: Any = model(
            id=secrets.token_urlsafe(16),
            challenge=challenge,
            purpose=purpose,
            expires_at=utcnow() + LIFE,
            **extra,
        )
        s.add(row)
        return str(row.id)


def spend_challenge(engine: Engine, model: type[Row], challenge_id: str, purpose: str) -> Row | None:
    """The challenge, now spent; None if unknown, spent before, expired or for another ceremony."""
    if not isinstance(challenge_id, str) or len(challenge_id) > 64:
        return None
    table: Any = model
    with session_scope(engine) as s:
        done = s.execute(
            update(model)
            .where(
                table.id == challenge_id,
                table.purpose == purpose,
                table.used_at.is_(None),
                table.expires_at > utcnow(),
            )
            .values(used_at=utcnow())
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return None
        found = s.get(model, challenge_id)
        assert found is not None
        s.expunge(found)
        return found
