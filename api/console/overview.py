"""The console overview (`/console`): the brand's scans, sessions, taps, claims, resales and alerts
per day, where (countries) and through what (channels), open alerts and jobs in progress. The
charts' numbers go to the page's script as JSON in a `<script type="application/json">` element;
the same numbers are in tables under each chart."""

from __future__ import annotations

from typing import Annotated, Any

from babel import Locale
from babel.dates import format_skeleton
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from api.console.deps import AnalystDep
from api.console.render import Texts, language, render
from api.deps import SessionDep
from registry.alerts import actions
from registry.alerts.models import Alert
from registry.dashboard.overview import RANGES, SERIES, overview

router = APIRouter(include_in_schema=False)


def babel_locale(lang: str) -> str:
    return "zh_Hans_CN" if lang == "zh-CN" else "en"


def country_name(lang: str, code: str, t: Texts) -> str:
    if code == "unknown":
        return t("overview.country.unknown")
    return str(Locale.parse(babel_locale(lang)).territories.get(code, code))


def _chart_data(lang: str, t: Texts, view: Any) -> dict[str, Any]:
    loc = babel_locale(lang)
    return {
        "lang": lang,
        "days": [format_skeleton("MMMd", d, locale=loc) for d in view.days],
        "series": {name: {"label": t(f"overview.series.{name}"), "values": view.series[name]} for name in SERIES},
        "countries": {
            "label": t("overview.series.scans"),
            "names": [country_name(lang, c, t) for c, _, _ in view.countries[:10]],
            "values": [n for _, n, _ in view.countries[:10]],
        },
        "channels": {
            "label": t("overview.series.scans"),
            "names": [t(f"overview.channel.{c}") for c, _, _ in view.channels],
            "values": [n for _, n, _ in view.channels],
        },
    }


@router.get("/console", response_class=HTMLResponse)
def overview_page(
    request: Request,
    me: AnalystDep,
    s: SessionDep,
    days: Annotated[int, Query(description="7, 30 or 90")] = 30,
) -> HTMLResponse:
    days = days if days in RANGES else 30
    return render(request, "overview.html", principal=me, section="overview", **_context(request, s, me.brand_id, days))


def _context(request: Request, s: Session, brand_id: str, days: int) -> dict[str, Any]:
    lang = language(request)
    t = Texts(lang)
    view = overview(s, brand_id, days)
    loc = babel_locale(lang)
    return {
        "view": view,
        "days": days,
        "ranges": RANGES,
        "series_names": SERIES,
        "day_labels": [format_skeleton("yMMMd", d, locale=loc) for d in view.days],
        "country_names": {c: country_name(lang, c, t) for c, _, _ in view.countries},
        "chart": _chart_data(lang, t, view),
        "totals": {name: sum(view.series[name]) for name in SERIES},
        "alerts": [alert_line(a, lang) for a in view.newest_alerts],
    }


def alert_line(alert: Alert, lang: str) -> dict[str, Any]:
    """An alert as a list shows it: its sentence in the page's language, its twin, when raised."""
    view = actions.alert_view(alert)
    return {
        "id": view.id,
        "rule": view.rule,
        "state": view.state,
        "summary": view.summary.zh if lang == "zh-CN" else view.summary.en,
        "contract": view.contract,
        "token_id": view.token_id,
        "subject": view.subject,
        "raised_at": view.raised_at,
    }
