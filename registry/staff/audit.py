"""The audit log: every staff action and every refusal, readable by the brand's admins."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

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
