"""The console overview's figures: the scan log's aggregates (the same function and inputs as
`GET /v1/brands/me/scans/aggregates`) by day, country and channel over a range of days, with every
day of the range present; the brand's open alerts; its jobs still in progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from registry.alerts import actions
from registry.alerts.models import Alert
from registry.jobs.models import Job, JobState
from registry.scans import service
from registry.scans.models import CHANNELS

RANGES = (7, 30, 90)
SERIES = ("scans", "sessions", "taps", "claims", "resales", "alerts")


@dataclass(frozen=True)
class Overview:
    first: date
    last: date
    days: list[date]
    series: dict[str, list[int]]  # one value per day of `days`, per name of SERIES
    countries: list[tuple[str, int, int]]  # (ISO code or "unknown", scans, sessions), most scans first
    channels: list[tuple[str, int, int]]  # (channel, scans, taps), in CHANNELS order, then others
    open_alerts: int
    newest_alerts: list[Alert]
    jobs: list[Job]


def _figures(s: Session, brand_id: str, first: date, last: date, by: service.By) -> list[service.Figure]:
    start = datetime.combine(first, time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    # As the route does: alerts are counted only where the aggregates have a column for them.
    raised = [] if by in ("country", "channel") else actions.raised_between(s, brand_id, start, end)
    numbers: Any = service.aggregates(s, brand_id, first, last, by, raised)
    # A list of figures today; the rollup-only service (issue 21 follow-up) wraps them in `.figures`.
    return list(getattr(numbers, "figures", numbers))


def overview(s: Session, brand_id: str, days: int, *, today: date | None = None, newest: int = 5) -> Overview:
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    span = [first + timedelta(days=i) for i in range(days)]
    by_day = {f.key: f for f in _figures(s, brand_id, first, last, "day")}
    series: dict[str, list[int]] = {name: [] for name in SERIES}
    for day in span:
        figure = by_day.get(str(day))
        for name in SERIES:
            series[name].append(int(getattr(figure, name) or 0) if figure else 0)
    countries = sorted(
        ((f.key, f.scans, f.sessions) for f in _figures(s, brand_id, first, last, "country")),
        key=lambda row: (-row[1], row[0]),
    )
    channel_rows = {f.key: (f.key, f.scans, f.taps) for f in _figures(s, brand_id, first, last, "channel")}
    channels = [channel_rows.pop(c, (c, 0, 0)) for c in CHANNELS] + sorted(channel_rows.values())
    open_count = s.exec(
        select(func.count()).select_from(Alert).where(Alert.brand_id == brand_id, Alert.state == "open")
    ).one()
    newest_alerts, _ = actions.list_alerts(s, brand_id, state="open", limit=newest)
    jobs = s.exec(
        select(Job)
        .where(Job.brand_id == brand_id, col(Job.state).in_((JobState.accepted, JobState.running)))
        .order_by(col(Job.created_at).desc())
        .limit(20)
    ).all()
    return Overview(first, last, span, series, countries, channels, int(open_count), newest_alerts, list(jobs))
