"""The console's consented owners: the brand's current consents with exactly the details each owner
chose to share (analyst and up), and their export as CSV or JSON. Every view and export is audited
(who, when, how many rows) and exports are also in the consent log; only `principal.brand_id`'s
consents are ever read, and the recipient the notices name is shown so staff see what owners read."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlmodel import Session

from api.console.deps import AnalystDep, client_network
from api.console.render import render
from api.deps import ServerKeyDep, SessionDep, SettingsDep
from registry.consent import export
from registry.consent.models import ConsentProfile
from registry.consent.notice import FIELDS
from registry.consent.schemas import ExportOut, ExportRow
from registry.settings import Settings
from registry.staff.audit import record
from registry.staff.sessions import StaffPrincipal

router = APIRouter(include_in_schema=False)
SHOWN = 200  # rows on the page; the downloads hold them all


def _rows(
    s: Session, server_key: str, me: StaffPrincipal, request: Request, settings: Settings, action: str, fmt: str
) -> list[ExportRow]:
    """The current consents, read for `me`'s brand and audited in the same transaction."""
    found = export.rows(s, server_key, me.brand_id, time.time())
    if fmt != "page":
        export.log(s, me.brand_id, f"staff:{me.staff_id}", fmt, len(found))
    record(s, me, action, detail=f"{fmt}, {len(found)} rows", network=client_network(request, settings))
    return found


@router.get("/console/owners", response_class=HTMLResponse)
def owners_page(
    request: Request, me: AnalystDep, s: SessionDep, settings: SettingsDep, server_key: ServerKeyDep
) -> HTMLResponse:
    found = _rows(s, server_key, me, request, settings, "owners.view", "page")
    return render(
        request,
        "owners.html",
        principal=me,
        section="owners",
        rows=found[:SHOWN],
        more=max(0, len(found) - SHOWN),
        fields=FIELDS,
        profile=s.get(ConsentProfile, me.brand_id),
    )


@router.get("/console/owners/export.csv")
def export_csv(
    request: Request, me: AnalystDep, s: SessionDep, settings: SettingsDep, server_key: ServerKeyDep
) -> Response:
    found = _rows(s, server_key, me, request, settings, "owners.export", "csv")
    return Response(
        export.to_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="owners.csv"', "Cache-Control": "no-store"},
    )


@router.get("/console/api/owners/export")
def export_json(
    request: Request, me: AnalystDep, s: SessionDep, settings: SettingsDep, server_key: ServerKeyDep
) -> JSONResponse:
    found = _rows(s, server_key, me, request, settings, "owners.export", "json")
    document = ExportOut(brand_id=me.brand_id, at=datetime.now(UTC), rows=found).model_dump(mode="json")
    return JSONResponse(
        document, headers={"Content-Disposition": 'attachment; filename="owners.json"', "Cache-Control": "no-store"}
    )
