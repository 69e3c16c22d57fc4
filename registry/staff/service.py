"""Staff members of a brand: creation (from an invite), the list an admin sees, role changes and
disabling (both end the member's sessions at once)."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, func, select

from registry.db.columns import utcnow
from registry.errors import Conflict, NotFound
from registry.staff.models import StaffMember, StaffRole
from registry.staff.sessions import close_all_sessions


def create_staff(
    s: Session,
    brand_id: str,
    name: str,
    role: StaffRole,
    *,
    created_by: str | None = None,
    staff_id: str | None = None,
) -> StaffMember:
    member = StaffMember(
        id=staff_id or str(uuid.uuid4()), brand_id=brand_id, name=name, role=role.value, created_by=created_by
    )
    s.add(member)
    s.flush()
    return member


def staff_of(s: Session, brand_id: str) -> list[StaffMember]:
    return list(
        s.exec(select(StaffMember).where(col(StaffMember.brand_id) == brand_id).order_by(col(StaffMember.created_at)))
    )


def member_of(s: Session, brand_id: str, staff_id: str) -> StaffMember:
    """The brand's member `staff_id`; another brand's member is not found (never told apart)."""
    member = s.get(StaffMember, staff_id) if len(staff_id) <= 64 else None
    if member is None or member.brand_id != brand_id:
        raise NotFound(f"no member of staff {staff_id}")
    return member


def _other_admins(s: Session, member: StaffMember) -> int:
    return int(
        s.exec(
            select(func.count())
            .select_from(StaffMember)
            .where(
                col(StaffMember.brand_id) == member.brand_id,
                col(StaffMember.id) != member.id,
                col(StaffMember.role) == StaffRole.admin.value,
                col(StaffMember.disabled_at).is_(None),
            )
        ).one()
    )


def set_role(s: Session, brand_id: str, staff_id: str, role: StaffRole) -> tuple[StaffMember, int]:
    """The member's new role, and how many of their sessions ended (they sign in again with it)."""
    member = member_of(s, brand_id, staff_id)
    if member.role == role.value:
        return member, 0
    if member.role == StaffRole.admin.value and _other_admins(s, member) == 0:
        raise Conflict("the brand's last admin keeps the admin role")
    member.role = role.value
    return member, close_all_sessions(s, member.id)


def disable(s: Session, brand_id: str, staff_id: str) -> tuple[StaffMember, int]:
    member = member_of(s, brand_id, staff_id)
    if member.disabled_at is None:
        if member.role == StaffRole.admin.value and _other_admins(s, member) == 0:
            raise Conflict("the brand's last admin cannot be disabled")
        member.disabled_at = utcnow()
    return member, close_all_sessions(s, member.id)
