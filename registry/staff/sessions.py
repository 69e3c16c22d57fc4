"""Console sessions: opened after a passkey (or wallet) sign-in, found by the cookie's secret, ended by
the idle or absolute timeout, by signing out, or by "sign out everywhere". The CSRF token is derived
from the cookie's secret (HMAC), so it is never stored and changes with every session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from registry.db.columns import utcnow
from registry.db.engine import session_scope
from registry.staff.models import RANK, StaffMember, StaffRole, StaffSession

# `last_seen_at` is written at most this often: a console page issues several requests a second.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class StaffPrincipal:
    """Who is signed in to the console, for one request."""

    staff_id: str
    brand_id: str
    role: StaffRole
    name: str
    session_id: str  # the row's id (a hash), never the cookie
    csrf: str  # the token forms and scripts send back on every unsafe request

    def may(self, role: StaffRole) -> bool:
        """Whether this member's role includes `role` (admin > operator > analyst)."""
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class OpenedSession:
    cookie: str  # the secret for the browser's cookie; shown once, stored only hashed
    csrf: str
    expires_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_for(cookie: str) -> str:
    return hmac.new(cookie.encode(), b"twinmark-console-csrf", hashlib.sha256).hexdigest()


def csrf_valid(principal: StaffPrincipal, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(principal.csrf.encode(), sent.encode())


def _aware(at: datetime) -> datetime:
    """SQLite hands datetimes back naive (they were written in UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def open_session(
    engine: Engine, staff_id: str, *, hours: int, network: str | None = None, agent: str | None = None
) -> OpenedSession:
    """A new session for `staff_id` (always a new secret: a cookie planted before sign-in is never
    promoted, which is what defeats session fixation)."""
    cookie = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=hours)
    with session_scope(engine) as s:
        s.add(
            StaffSession(
                id=_digest(cookie),
                staff_id=staff_id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
                network=network,
                agent=agent,
            )
        )
    return OpenedSession(cookie=cookie, csrf=csrf_for(cookie), expires_at=expires)


def resolve_session(engine: Engine, cookie: str | None, *, idle_minutes: int) -> StaffPrincipal | None:
    """The principal of a live session, or None (unknown, revoked, idle too long, past its absolute
    end, or its member disabled)."""
    if not cookie or len(cookie) > 200:
        return None
    now = utcnow()
    with session_scope(engine) as s:
        found = s.exec(
            select(StaffSession, StaffMember)
            .join(StaffMember, col(StaffMember.id) == col(StaffSession.staff_id))
            .where(col(StaffSession.id) == _digest(cookie))
        ).first()
        if found is None:
            return None
        row, member = found
        if (
            row.revoked_at is not None
            or member.disabled_at is not None
            or _aware(row.expires_at) <= now
            or _aware(row.last_seen_at) + timedelta(minutes=idle_minutes) <= now
        ):
            return None
        if now - _aware(row.last_seen_at) >= _TOUCH_EVERY:
            row.last_seen_at = now
        return StaffPrincipal(
            staff_id=member.id,
            brand_id=member.brand_id,
            role=StaffRole(member.role),
            name=member.name,
            session_id=row.id,
            csrf=csrf_for(cookie),
        )


def close_session(engine: Engine, cookie: str) -> None:
    with session_scope(engine) as s:
        s.execute(
            update(StaffSession)
            .where(col(StaffSession.id) == _digest(cookie), col(StaffSession.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )


def close_all_sessions(s: Session, staff_id: str) -> int:
    """Sign out everywhere (and what disabling a member or changing their role does). Returns how many
    sessions were ended."""
    result = s.execute(
        update(StaffSession)
        .where(col(StaffSession.staff_id) == staff_id, col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
