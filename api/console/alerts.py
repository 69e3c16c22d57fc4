"""The console's alerts: an inbox with filters (state, rule, collection), each alert with its evidence
(the rule's figures, the twin, the scans with their SUN or HaLo evidence, the chain block), and the
operator's resolve or clear. Both close the alert through `registry.alerts.actions.resolve`, which
lifts the twin's caution from the buyer's page; they differ in what the audit log and note say
(resolved: handled; cleared: a false alarm). Another brand's alert is not found."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api.console.deps import AnalystDep, OperatorDep, client_network
from api.console.overview import alert_line, country_name
from api.console.render import Texts, language, render
from api.deps import EngineDep, SessionDep, SettingsDep
from api.routes.common import MAX_ID
from registry.alerts import actions
from registry.alerts.caution import board_for
from registry.alerts.models import STATES
from registry.alerts.policy import RULES
from registry.brands.service import collections_of
from registry.db.engine import session_scope
from registry.staff.audit import record
from registry.staff.models import StaffRole
from registry.staff.sessions import StaffPrincipal

router = APIRouter(include_in_schema=False)
AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/console/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    me: AnalystDep,
    s: SessionDep,
    state: Annotated[str, Query(max_length=20)] = "",
    rule: Annotated[str, Query(max_length=40)] = "",
    collection: Annotated[str, Query(max_length=42)] = "",
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    # Unknown filter values are answered as the form shows them: unset (a hand-typed URL is no fault).
    state = state if state in STATES else ""
    rule = rule if rule in RULES else ""
    collections = collections_of(s, me.brand_id)
    collection = collection if collection in {c.address for c in collections} else ""
    rows, next_cursor = actions.list_alerts(
        s, me.brand_id, state=state or None, rule=rule or None, collection=collection or None, cursor=cursor
    )
    lang = language(request)
    query = f"state={state}&rule={rule}&collection={collection}"
    return render(
        request,
        "alerts.html",
        principal=me,
        section="alerts",
        alerts=[alert_line(a, lang) for a in rows],
        state=state,
        rule=rule,
        collection=collection,
        states=STATES,
        rules=RULES,
        collections=collections,
        next_href=f"/console/alerts?{query}&cursor={next_cursor}" if next_cursor else None,
    )


def _evidence(scan: dict[str, Any]) -> str | None:
    """A tap's evidence (SUN picc data and CMAC, or HaLo digest and signature) as readable JSON."""
    raw = scan.get("evidence")
    if not raw:
        return None
    try:
        return json.dumps(json.loads(raw) if isinstance(raw, str) else raw, indent=2, sort_keys=True)
    except ValueError:
        return str(raw)


def _when(value: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


@router.get("/console/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: AlertId, me: AnalystDep, s: SessionDep) -> HTMLResponse:
    alert = actions.own_alert(s, me.brand_id, alert_id)
    lang = language(request)
    t = Texts(lang)
    view = actions.alert_view(alert)
    scans = actions.alert_scans(s, alert)
    return render(
        request,
        "alert.html",
        principal=me,
        section="alerts",
        alert=alert_line(alert, lang),
        view=view,
        facts=json.dumps(view.facts, indent=2, sort_keys=True, ensure_ascii=False),
        chain=json.dumps(view.chain, indent=2, sort_keys=True) if view.chain else None,
        scans=[
            sc
            | {
                "at_time": _when(sc.get("at")),
                "country_name": country_name(lang, sc["country"], t) if sc.get("country") else None,
                "evidence_text": _evidence(sc),
            }
            for sc in scans
        ],
        may_resolve=me.may(StaffRole.operator),
    )


@router.post("/console/alerts/{alert_id}/resolve")
async def resolve_alert(
    request: Request,
    alert_id: AlertId,
    me: OperatorDep,
    engine: EngineDep,
    settings: SettingsDep,
    outcome: Annotated[Literal["resolved", "cleared"], Form()] = "resolved",
    note: Annotated[str, Form(max_length=500)] = "",
) -> RedirectResponse:
    """Closes the alert (the twin's caution goes) with the member's note, audited in the same
    transaction; then this process's copy of the cautions is read again, as the API route does."""
    network = client_network(request, settings)
    await run_in_threadpool(_resolve, engine, me, alert_id, outcome, note.strip() or None, network)
    board_for(engine).invalidate()
    return RedirectResponse(f"/console/alerts/{alert_id}", status_code=303)


def _resolve(
    engine: Engine, me: StaffPrincipal, alert_id: int, outcome: str, note: str | None, network: str | None
) -> None:
    with session_scope(engine) as s:
        alert = actions.own_alert(s, me.brand_id, alert_id)
        actions.resolve(s, alert, note)
        record(
            s,
            me,
            f"alert.{'clear' if outcome == 'cleared' else 'resolve'}",
            target=f"alert:{alert_id}",
            network=network,
        )


@router.get("/console/api/alerts/{alert_id}/export")
def export_alert(alert_id: AlertId, me: AnalystDep, s: SessionDep) -> JSONResponse:
    """The alert as the API exports it, for `python -m registry.alerts.recheck` (a download)."""
    document = actions.export(s, actions.own_alert(s, me.brand_id, alert_id)).model_dump(mode="json")
    name = f"alert-{alert_id}.json"
    return JSONResponse(
        document, headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    )
