"""The Security page (admins): staff and their roles, invites, the audit log, the member's own
sessions, and reporting a compromise window (previewed, then confirmed). API keys are created,
rotated and revoked on the Integrations page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from sqlmodel import Session

from api.console.auth import own_sessions
from api.console.deps import AdminDep, client_network
from api.console.render import language, render
from api.deps import ChainDep, EngineDep, SessionDep, SettingsDep
from registry.brands import service as brands
from registry.brands.models import Brand
from registry.errors import InvalidInput
from registry.pages.catalog_en import CHECKS as CHECKS_EN
from registry.pages.catalog_zh import CHECKS as CHECKS_ZH
from registry.settings import Settings
from registry.staff import audit
from registry.staff.invites import create_invite, open_invites, revoke_invite
from registry.staff.models import StaffRole
from registry.staff.service import disable, set_role, staff_of
from registry.staff.sessions import StaffPrincipal

router = APIRouter(include_in_schema=False)
PAGE = "/console/security"
OUTCOMES = ("ok", "refused", "failed")


def _page(
    request: Request, me: StaffPrincipal, s: Session, engine: Engine, *, status_code: int = 200, **extra: Any
) -> Response:
    q = request.query_params
    before = q.get("before")
    staff_filter, action, outcome = q.get("staff") or None, q.get("action") or None, q.get("outcome") or None
    entries, cursor = audit.entries(
        s,
        me.brand_id,
        before=int(before) if before and before.isdigit() and len(before) < 19 else None,
        staff_id=staff_filter,
        action=action[:60] if action else None,
        outcome=outcome if outcome in OUTCOMES else None,
    )
    filters = {k: v for k, v in (("staff", staff_filter), ("action", action), ("outcome", outcome)) if v}
    staff = staff_of(s, me.brand_id)
    brand = s.get(Brand, me.brand_id)
    return render(
        request,
        "security.html",
        principal=me,
        section="security",
        status_code=status_code,
        staff=staff,
        admin_wallet=brand.admin_address if brand else "",
        my_wallet=next((m.wallet for m in staff if m.id == me.staff_id), None),
        invites=open_invites(s, me.brand_id),
        entries=entries,
        next_cursor=cursor,
        filters=filters,
        outcomes=OUTCOMES,
        roles=[role.value for role in StaffRole],
        sessions=own_sessions(engine, me.staff_id),
        **extra,
    )


def _net(request: Request, settings: Settings) -> str | None:
    return client_network(request, settings)


def _back() -> RedirectResponse:
    return RedirectResponse(PAGE, status_code=303)


@router.get(PAGE)
def security_page(request: Request, me: AdminDep, s: SessionDep, engine: EngineDep) -> Response:
    return _page(request, me, s, engine)


@router.post(f"{PAGE}/invites")
def invite(
    request: Request,
    me: AdminDep,
    s: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    role: Annotated[StaffRole, Form()],
) -> Response:
    """The link is in this answer only (rendered in the page; never stored, never redirected to)."""
    made = create_invite(
        s,
        me.brand_id,
        name.strip() or "?",
        role,
        base_url=settings.base_url,
        hours=settings.console_invite_hours,
        created_by=me.staff_id,
    )
    audit.record(
        s,
        me,
        "staff.invite",
        target=made.invite.id,
        detail=f"{name} as {role.value}",
        network=client_network(request, settings),
    )
    s.flush()
    return _page(request, me, s, engine, new_link=made.link, new_invite=made.invite)


@router.post(PAGE + "/invites/{invite_id}/revoke")
def revoke(request: Request, invite_id: str, me: AdminDep, s: SessionDep, settings: SettingsDep) -> Response:
    revoke_invite(s, me.brand_id, invite_id)
    audit.record(s, me, "staff.invite-revoke", target=invite_id, network=client_network(request, settings))
    return _back()


@router.post(PAGE + "/staff/{staff_id}/role")
def change_role(
    request: Request,
    staff_id: str,
    me: AdminDep,
    s: SessionDep,
    settings: SettingsDep,
    role: Annotated[StaffRole, Form()],
) -> Response:
    member, ended = set_role(s, me.brand_id, staff_id, role)
    audit.record(
        s,
        me,
        "staff.role",
        target=member.id,
        detail=f"{role.value}; {ended} sessions ended",
        network=client_network(request, settings),
    )
    return _back()


@router.post(PAGE + "/staff/{staff_id}/disable")
def disable_member(request: Request, staff_id: str, me: AdminDep, s: SessionDep, settings: SettingsDep) -> Response:
    member, ended = disable(s, me.brand_id, staff_id)
    audit.record(
        s,
        me,
        "staff.disable",
        target=member.id,
        detail=f"{ended} sessions ended",
        network=client_network(request, settings),
    )
    return _back()


def _since(value: str) -> datetime:
    """A `datetime-local` field's value (the admin's wall clock is not known: read as UTC, and the
    page says so)."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("since: a date and time, e.g. 2026-12-01T09:30") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@router.post(PAGE + "/compromise")
def compromise_preview(
    request: Request,
    me: AdminDep,
    s: SessionDep,
    engine: EngineDep,
    since: Annotated[str, Form(max_length=40)],
) -> Response:
    """The confirmation step: what will happen, and what the buyer's page will say; nothing changes yet."""
    at = _since(since)
    if at > datetime.now(UTC):
        raise InvalidInput("since must not be in the future")
    buyer = (CHECKS_ZH if language(request) == "zh-CN" else CHECKS_EN)["issuer_standing"]
    return _page(
        request,
        me,
        s,
        engine,
        confirm_since=at,
        confirm_value=at.strftime("%Y-%m-%dT%H:%M"),
        buyer_title=buyer["title"],
        buyer_fail=buyer["fail"],
    )


@router.post(PAGE + "/compromise/confirm")
def compromise_confirm(
    request: Request,
    me: AdminDep,
    s: SessionDep,
    engine: EngineDep,
    chain: ChainDep,
    settings: SettingsDep,
    since: Annotated[str, Form(max_length=40)],
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if confirm != "yes":
        raise InvalidInput("tick the confirmation box to report the compromise")
    at = _since(since)
    change = brands.mark_compromised(s, chain, me.brand_id, int(at.timestamp()))
    audit.record(
        s,
        me,
        "brand.compromise",
        target=me.brand_id,
        detail=f"since {at.isoformat()}; {change.revoked_keys} keys revoked; tx {change.tx_hash}",
        network=client_network(request, settings),
    )
    s.flush()
    return _page(request, me, s, engine, reported_since=at, revoked_keys=change.revoked_keys)
