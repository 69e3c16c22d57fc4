"""Owners' privileges in the console: the brand's privileges with their redemptions (analysts read,
double uses flagged), an operator defines, edits and retires them, and staff at a venue check a
receipt on a page (an operator: checking records the use). Every action works on the member's brand
only (another brand's privilege is not found) and is audited."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.console.deps import AnalystDep, OperatorDep
from api.console.render import render
from api.deps import ChainDep, SessionDep, SettingsDep
from api.routes.common import MAX_ID
from registry.brands.service import collections_of
from registry.errors import TwinmarkError
from registry.privileges import service, uses
from registry.privileges.models import KINDS
from registry.privileges.receipts import receipt_account
from registry.privileges.schemas import PrivilegeIn, PrivilegePatch
from registry.staff.audit import record
from registry.staff.models import StaffRole
from registry.staff.sessions import StaffPrincipal

router = APIRouter(include_in_schema=False)
PrivilegeId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _when(text: str) -> str | None:
    """A `datetime-local` field (UTC) as ISO 8601 with its zone; empty: none."""
    return f"{text}:00Z" if len(text) == 16 else (f"{text}Z" if text else None)


def _body(form: dict[str, str], collections: list[str]) -> dict[str, Any]:
    """The privilege form as the API's body (the same validation: `PrivilegeIn` / `PrivilegePatch`)."""

    def listed(name: str) -> list[str]:
        return [x.strip() for x in form.get(name, "").replace("\n", ",").split(",") if x.strip()]

    def number(name: str) -> int | None:
        return int(form[name]) if form.get(name, "").strip().isdigit() else None

    rules: dict[str, Any] = {
        "collections": [c for c in collections if form.get(f"collection_{c}")],
        "gtins": listed("gtins"),
        "tags": listed("tags"),
        "claimed": bool(form.get("claimed")),
        "not_lost_or_stolen": bool(form.get("not_lost_or_stolen")),
        "min_days_owned": number("min_days_owned"),
        "serviced_within_days": number("serviced_within_days"),
        "min_held": number("min_held") or 1,
    }
    return {
        "name": {"en": form.get("name_en", ""), "zh": form.get("name_zh", "")},
        "description": {"en": form.get("description_en", ""), "zh": form.get("description_zh", "")},
        "rules": rules,
        "starts_at": _when(form.get("starts_at", "")),
        "ends_at": _when(form.get("ends_at", "")),
        "capacity": number("capacity"),
    }


def _list(request: Request, me: StaffPrincipal, s: Session, *, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    privileges = [service.out(s, p) for p in service.list_for(s, me.brand_id)]
    redemptions = service.list_redemptions(s, me.brand_id, limit=50).redemptions
    return render(
        request,
        "privileges.html",
        principal=me,
        section="privileges",
        status_code=status_code,
        privileges=privileges,
        redemptions=redemptions,
        doubles=[r for r in redemptions if r.double_uses],
        kinds=KINDS,
        collections=collections_of(s, me.brand_id),
        may_edit=me.may(StaffRole.operator),
        **ctx,
    )


@router.get("/console/privileges", response_class=HTMLResponse)
def privileges_page(request: Request, me: AnalystDep, s: SessionDep) -> HTMLResponse:
    return _list(request, me, s)


@router.post("/console/privileges", response_model=None)
async def create_privilege(request: Request, me: OperatorDep, s: SessionDep) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    collections = [c.address for c in collections_of(s, me.brand_id)]
    try:
        body = PrivilegeIn.model_validate(_body(form, collections) | {"kind": form.get("kind", "")})
        made = service.create(s, me.brand_id, body)
    except ValidationError as exc:
        errors = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _list(request, me, s, status_code=422, form_errors=errors, form=form)
    except TwinmarkError as exc:
        return _list(request, me, s, status_code=exc.status, form_errors=[exc.detail], form=form)
    record(s, me, "privilege.create", target=f"privilege:{made.id}")
    return RedirectResponse(f"/console/privileges/{made.id}", status_code=303)


@router.post("/console/privileges/check", response_class=HTMLResponse)
async def check_receipt(
    request: Request, me: OperatorDep, s: SessionDep, settings: SettingsDep, chain: ChainDep
) -> HTMLResponse:
    """A receipt checked at a venue: accepted (its use recorded) or refused, with the reason."""
    form = await request.form()
    text, venue = str(form.get("receipt", ""))[:2000], str(form.get("venue", ""))[:100]
    verdict = uses.check(
        s,
        text=text,
        pinned=receipt_account(settings).address,
        chain_id=chain.chain_id,
        brand_id=me.brand_id,
        venue=venue,
        now=int(time.time()),
        use=True,
    )
    target = f"twin:{verdict.collection}:{verdict.token_id}" if verdict.token_id else None
    record(s, me, "receipt.check", target=target, outcome="ok" if verdict.ok else "refused", detail=verdict.reason)
    return _list(request, me, s, verdict=verdict, checked_at=datetime.now(UTC), venue=venue)


def _detail(
    request: Request, me: StaffPrincipal, s: Session, pid: int, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    p = service.own(s, me.brand_id, pid)
    view = service.out(s, p)
    return render(
        request,
        "privilege.html",
        principal=me,
        section="privileges",
        status_code=status_code,
        p=view,
        redemptions=service.list_redemptions(s, me.brand_id, privilege_id=pid, limit=100).redemptions,
        collections=collections_of(s, me.brand_id),
        starts=view.starts_at.strftime("%Y-%m-%dT%H:%M") if view.starts_at else "",
        ends=view.ends_at.strftime("%Y-%m-%dT%H:%M") if view.ends_at else "",
        may_edit=me.may(StaffRole.operator),
        **ctx,
    )


@router.get("/console/privileges/{pid}", response_class=HTMLResponse)
def privilege_page(request: Request, pid: PrivilegeId, me: AnalystDep, s: SessionDep) -> HTMLResponse:
    return _detail(request, me, s, pid)


@router.post("/console/privileges/{pid}", response_model=None)
async def edit_privilege(request: Request, pid: PrivilegeId, me: OperatorDep, s: SessionDep) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    service.own(s, me.brand_id, pid)  # another brand's: not found, before anything is read from the form
    collections = [c.address for c in collections_of(s, me.brand_id)]
    try:
        service.update(s, me.brand_id, pid, PrivilegePatch.model_validate(_body(form, collections)))
    except ValidationError as exc:
        errors = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _detail(request, me, s, pid, status_code=422, form_errors=errors)
    except TwinmarkError as exc:
        s.rollback()  # nothing of a refused edit is kept
        return _detail(request, me, s, pid, status_code=exc.status, form_errors=[exc.detail])
    record(s, me, "privilege.update", target=f"privilege:{pid}")
    return RedirectResponse(f"/console/privileges/{pid}", status_code=303)


@router.post("/console/privileges/{pid}/retire")
def retire_privilege(pid: PrivilegeId, me: OperatorDep, s: SessionDep) -> RedirectResponse:
    service.retire(s, me.brand_id, pid)
    record(s, me, "privilege.retire", target=f"privilege:{pid}")
    return RedirectResponse(f"/console/privileges/{pid}", status_code=303)
