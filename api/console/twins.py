"""The console's twins: the brand's twins searched by GTIN, serial, token id or name (a keyset cursor,
never OFFSET), and one twin's page: content, owner and chain events, recent scans, alerts with their
evidence, NFC tags, labels and the buyer's page. Another brand's twin is not found."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.deps import AnalystDep
from api.console.overview import alert_line, country_name
from api.console.render import Texts, language, render
from api.deps import ChainDep, SessionDep
from api.routes.common import TokenId, checksum
from registry.alerts import actions
from registry.chain.layout import status_name
from registry.dashboard.twins import FIELDS, Field, own_twin, page_of_twins, recent_scans
from registry.errors import ChainUnavailable
from registry.nfc.service import tags_of
from registry.provenance.service import history, timeline

router = APIRouter(include_in_schema=False)


@router.get("/console/twins", response_class=HTMLResponse)
def twins_page(
    request: Request,
    me: AnalystDep,
    s: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    field: Annotated[Field, Query()] = "any",
    cursor: Annotated[str | None, Query(max_length=120)] = None,
) -> HTMLResponse:
    twins, next_cursor = page_of_twins(s, me.brand_id, q, field, cursor)
    return render(
        request,
        "twins.html",
        principal=me,
        section="twins",
        twins=twins,
        q=q,
        field=field,
        fields=FIELDS,
        next_cursor=next_cursor,
        searched=bool(q.strip()),
    )


def _image(metadata: dict[str, Any]) -> str | None:
    """The twin's picture through this service's own gateway (the console's CSP allows only 'self')."""
    passport = metadata.get("twinmark", {}).get("passport", {})
    images = passport.get("images") if isinstance(passport, dict) else None
    first = images[0] if isinstance(images, list) and images else metadata.get("image")
    if isinstance(first, str) and first.startswith("ipfs://"):
        return "/ipfs/" + first.removeprefix("ipfs://")
    return None


def _facts(passport: dict[str, Any]) -> list[tuple[str, str]]:
    """The passport's plain fields (text and numbers) and its materials, in the content's order."""
    out: list[tuple[str, str]] = []
    for key, value in passport.items():
        if key in ("gtin", "serial", "images"):  # shown with the twin's identity above
            continue
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out.append((key, str(value)))
        elif key == "materials" and isinstance(value, list):
            parts = [f"{m.get('name')} {m.get('percent')}%" for m in value if isinstance(m, dict)]
            out.append((key, ", ".join(parts)))
    return out


@router.get("/console/twins/{contract}/{token_id}", response_class=HTMLResponse)
def twin_page(
    request: Request, contract: str, token_id: TokenId, me: AnalystDep, s: SessionDep, chain: ChainDep
) -> HTMLResponse:
    twin = own_twin(s, me.brand_id, checksum(contract), token_id)
    lang = language(request)
    metadata = json.loads(twin.metadata_json)
    passport = metadata.get("twinmark", {}).get("passport", {})
    try:
        events = timeline(history(s, chain, twin.collection, twin.token_id).logs)
    except ChainUnavailable:
        events = None  # the node is away and the index has not reached the twin: said on the page
    alerts, _ = actions.list_alerts(s, me.brand_id, collection=twin.collection, token_id=twin.token_id, limit=50)
    t = Texts(lang)
    scans = recent_scans(s, twin)
    return render(
        request,
        "twin.html",
        principal=me,
        section="twins",
        twin=twin,
        description=metadata.get("description", ""),
        image=_image(metadata),
        facts=[
            (key, country_name(lang, value, t) if key == "origin_country" else value)
            for key, value in (_facts(passport) if isinstance(passport, dict) else [])
        ],
        status=status_name(twin.status),
        events=[
            {
                "event": e.event,
                "block": e.block_number,
                "at": datetime.fromisoformat(e.block_time).astimezone(UTC),
                "tx": e.tx_hash,
                "from": e.get("from"),
                "to": e.get("to") or e.get("custodian"),
            }
            for e in (events or [])
        ],
        events_unavailable=events is None,
        scans=scans,
        countries={sc.country: country_name(lang, sc.country, t) for sc in scans if sc.country},
        alerts=[alert_line(a, lang) for a in alerts],
        tags=tags_of(s, twin.collection, twin.token_id),
        labelled=twin.gtin is not None and twin.serial is not None,
    )
