"""The audit log: every staff action and every refusal, readable by the brand's admins."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry.db.engine import session_scope
from registry.staff.models import AuditEntry
from registry.staff.sessions import StaffPrincipal


def record(
    s: Session,
    principal: StaffPrincipal,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
    network: str | None = None,
) -> None:
    """Adds one entry in the caller's transaction (an action and its entry commit together)."""
    s.add(
        AuditEntry(
            brand_id=principal.brand_id,
            staff_id=principal.staff_id,
            actor=principal.name,
            action=action,
            target=target,
            outcome=outcome,
            detail=detail,
            network=network,
        )
    )


def record_now(engine: Engine, principal: StaffPrincipal, action: str, **fields: str | None) -> None:
    """The same in its own transaction: for refusals, whose request is then answered with an error."""
    with session_scope(engine) as s:
        record(s, principal, action, **fields)  # type: ignore[arg-type]


def record_as(
    s: Session,
    brand_id: str,
    actor: str,
    action: str,
    *,
    staff_id: str | None = None,
    target: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
    network: str | None = None,
) -> None:
    """An entry for an actor without a session: the operator, a brand's API key (`key:<prefix>`), or a
    member in the ceremony that signs them in."""
    s.add(
        AuditEntry(
            brand_id=brand_id,
            staff_id=staff_id,
            actor=actor,
            action=action,
            target=target,
            outcome=outcome,
            detail=detail,
            network=network,
        )
    )


def entries(
    s: Session,
    brand_id: str,
    *,
    before: int | None = None,
    staff_id: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    limit: int = 50,
) -> tuple[list[AuditEntry], int | None]:
    """The brand's entries, newest first, after the cursor `before` (an entry id); and the next cursor."""
    query = select(AuditEntry).where(col(AuditEntry.brand_id) == brand_id)
    if before is not None:
        query = query.where(col(AuditEntry.id) < before)
    if staff_id:
        query = query.where(col(AuditEntry.staff_id) == staff_id)
    if action:
        query = query.where(col(AuditEntry.action).startswith(action, autoescape=True))
    if outcome:
        query = query.where(col(AuditEntry.outcome) == outcome)
    rows = list(s.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)
