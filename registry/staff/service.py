"""Staff members of a brand (invites, passkeys and the console's pages build on these)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from registry.staff.models import StaffMember, StaffRole


def create_staff(
    s: Session, brand_id: str, name: str, role: StaffRole, *, created_by: str | None = None
) -> StaffMember:
    member = StaffMember(id=str(uuid.uuid4()), brand_id=brand_id, name=name, role=role.value, created_by=created_by)
    s.add(member)
    s.flush()
    return member
