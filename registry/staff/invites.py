"""Invites: single-use, expiring links that let their holder register a passkey as a new member of
staff. The link is `<base>/console/join/<id>#<secret>`: the secret sits in the fragment, which a browser
never sends, so it reaches no server or proxy log; the join page's script posts it. Only its SHA-256
is stored, and the link is shown once, to whoever made the invite."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.db.columns import utcnow
from registry.errors import NotFound
from registry.staff.models import StaffInvite, StaffRole


class InviteInvalid(NotFound):
    """Unknown, used, revoked, expired or a wrong secret: one answer, so a guesser learns nothing."""

    code, title = "console-invite-invalid", "This invite link is not valid"


@dataclass(frozen=True)
class NewInvite:
    invite: StaffInvite
    link: str  # shown once


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def create_invite(
    s: Session, brand_id: str, name: str, role: StaffRole, *, base_url: str, hours: int, created_by: str
) -> NewInvite:
    secret = secrets.token_urlsafe(32)
    invite = StaffInvite(
        id=secrets.token_urlsafe(12),
        brand_id=brand_id,
        name=name,
        role=role.value,
        token_hash=_digest(secret),
        created_by=created_by,
        expires_at=utcnow() + timedelta(hours=hours),
    )
    s.add(invite)
    s.flush()
    return NewInvite(invite, f"{base_url}/console/join/{invite.id}#{secret}")


def live_invite(s: Session, invite_id: str, secret: str) -> StaffInvite:
    """The invite, if the secret matches and it is neither used nor expired; else InviteInvalid."""
    invite = s.get(StaffInvite, invite_id) if len(invite_id) <= 64 else None
    if (
        invite is None
        or not hmac.compare_digest(invite.token_hash, _digest(secret))
        or invite.used_at is not None
        or _aware(invite.expires_at) <= utcnow()
    ):
        raise InviteInvalid("ask whoever invited you for a new link")
    return invite


def spend(s: Session, invite: StaffInvite, staff_id: str) -> None:
    """Marks the invite used, once: of two registrations racing on one link, only one gets the row."""
    done = s.execute(
        update(StaffInvite)
        .where(col(StaffInvite.id) == invite.id, col(StaffInvite.used_at).is_(None))
        .values(used_at=utcnow(), staff_id=staff_id)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise InviteInvalid("this invite was already used")


def revoke_invite(s: Session, brand_id: str, invite_id: str) -> StaffInvite:
    """An unused invite stops working now (it expires; the row stays for the audit trail)."""
    invite = s.get(StaffInvite, invite_id)
    if invite is None or invite.brand_id != brand_id:
        raise NotFound(f"no invite {invite_id}")
    if invite.used_at is None:
        invite.expires_at = min(_aware(invite.expires_at), utcnow())
    return invite


def open_invites(s: Session, brand_id: str) -> list[StaffInvite]:
    return list(
        s.exec(
            select(StaffInvite)
            .where(
                col(StaffInvite.brand_id) == brand_id,
                col(StaffInvite.used_at).is_(None),
                col(StaffInvite.expires_at) > utcnow(),
            )
            .order_by(col(StaffInvite.created_at).desc())
        ).all()
    )
