"""Staff invites from outside the console: by the operator, and by a brand's own API key (how a brand
gets its first admin). The link is in the answer only; its secret is stored hashed."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.deps import BrandCallerDep, OperatorDep, SessionDep, SettingsDep
from registry.brands.service import get_brand
from registry.settings import Settings
from registry.staff import audit
from registry.staff.invites import create_invite
from registry.staff.models import StaffRole

router = APIRouter(prefix="/v1/brands", tags=["staff"])


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="display name of the new member (no e-mail)")
    role: StaffRole = StaffRole.admin


class InviteOut(BaseModel):
    id: str
    brand: str
    name: str
    role: StaffRole
    expires_at: datetime
    link: str = Field(description="the single-use link, shown only here; its secret is after the #")


def _invite(s: Session, settings: Settings, brand_id: str, body: InviteIn, actor: str) -> InviteOut:
    made = create_invite(
        s,
        brand_id,
        body.name,
        body.role,
        base_url=settings.base_url,
        hours=settings.console_invite_hours,
        created_by=actor,
    )
    audit.record_as(s, brand_id, actor, "staff.invite", target=made.invite.id, detail=f"{body.name} as {body.role}")
    invite = made.invite
    return InviteOut(
        id=invite.id, brand=brand_id, name=invite.name, role=body.role, expires_at=invite.expires_at, link=made.link
    )


# Declared before `/{brand_id}/...`: Starlette tries routes in order, and "me" would match a brand id.
@router.post("/me/staff/invites", status_code=status.HTTP_201_CREATED)
def invite_by_key(body: InviteIn, who: BrandCallerDep, s: SessionDep, settings: SettingsDep) -> InviteOut:
    """The brand's key invites a member of its console staff (an admin by default)."""
    return _invite(s, settings, who.brand.id, body, f"key:{who.caller.key_id}")


@router.post("/{brand_id}/staff/invites", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def invite_by_operator(brand_id: str, body: InviteIn, s: SessionDep, settings: SettingsDep) -> InviteOut:
    """Operator: invites a member of the brand's console staff (an admin by default)."""
    return _invite(s, settings, get_brand(s, brand_id).id, body, "operator")
