"""The brand's numbers from the scan log, retention, and deletion on request. Every query of a brand's
data names the brand (`brand_id = ...`): no route reads another brand's scans.

Retention: complete UTC days are rolled into `scan_daily` (scans, distinct sessions, taps per day,
brand, twin, country, channel) once the day is over; raw scans older than the retention are then
deleted. The rolled days form a prefix of the log, so an aggregate over any range is the rollups
before the first unrolled day plus the raw scans from it on."""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, case, delete, func, insert, literal, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.db.engine import session_scope
from registry.scans.models import Scan, ScanDaily, ScanRollup

log = logging.getLogger(__name__)

By = Literal["day", "country", "channel", "collection", "twin"]
GRACE = timedelta(minutes=5)  # a day is rolled this long after it ended (scans still in a queue)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# ------------------------------------------------------------------ rollup and retention


def rolled_until(s: Session) -> date | None:
    """The first day not rolled up yet (None: nothing rolled)."""
    last = s.exec(select(func.max(ScanRollup.day))).one()
    return None if last is None else last + timedelta(days=1)


def roll_up(engine: Engine, *, now: datetime | None = None) -> list[date]:
    """Rolls every finished day not rolled yet, oldest first, one transaction a day."""
    now = now or datetime.now(UTC)
    last_complete = (now - GRACE).date() - timedelta(days=1)
    done: list[date] = []
    with session_scope(engine) as s:
        start = rolled_until(s)
        if start is None:
            first = s.exec(select(func.min(Scan.at))).one()
            if first is None:
                return done
            start = first.date()
    day = start
    while day <= last_complete:
        try:
            with session_scope(engine) as s:
                s.add(ScanRollup(day=day))
                s.flush()  # a second process rolling this day fails here, before any row
                _roll_day(s, day)
        except IntegrityError:
            log.info("scan rollup of %s done by another process", day)
        done.append(day)
        day += timedelta(days=1)
    return done


def _roll_day(s: Session, day: date) -> None:
    keys = [col(Scan.brand_id), col(Scan.collection), col(Scan.token_id), col(Scan.country), col(Scan.channel)]
    taps = func.sum(case((col(Scan.channel) == "tap", 1), else_=0))
    query = (
        sa_select(literal(day).label("day"), *keys, func.count(), func.count(col(Scan.session).distinct()), taps)
        .where(col(Scan.at) >= _start(day), col(Scan.at) < _start(day + timedelta(days=1)))
        .group_by(*keys)
    )
    names = ["day", "brand_id", "collection", "token_id", "country", "channel", "scans", "sessions", "taps"]
    s.connection().execute(insert(ScanDaily).from_select(names, query))


def purge(engine: Engine, retention_days: int, *, now: datetime | None = None) -> int:
    """Deletes raw scans older than `retention_days` whose day is rolled up; the number deleted."""
    now = now or datetime.now(UTC)
    with session_scope(engine) as s:
        rolled = rolled_until(s)
        cutoff = _start(now.date() - timedelta(days=retention_days))
        if rolled is not None:
            cutoff = min(cutoff, _start(rolled))
        else:
            return 0
        result = s.connection().execute(delete(Scan).where(col(Scan.at) < cutoff))
        return int(result.rowcount or 0)


def run_retention(engine: Engine, retention_days: int, stop: threading.Event, interval: float = 3600.0) -> None:
    """The retention loop: roll up, purge, then wait `interval` (every process may run it: a day is
    rolled once, by whoever inserts its `scan_rollups` row first)."""
    while not stop.is_set():
        try:
            rolled = roll_up(engine)
            purged = purge(engine, retention_days)
        except Exception as exc:  # the database away: the next round tries again
            log.warning("scan log retention: %s; trying again later", type(exc).__name__)
            stop.wait(min(interval, 60.0))
            continue
        if rolled or purged:
            log.info("scan log: %d days rolled up, %d raw scans past retention deleted", len(rolled), purged)
        stop.wait(interval)


# ------------------------------------------------------------------ aggregates


@dataclass(frozen=True)
class Figure:
    key: str
    scans: int
    sessions: int
    taps: int


def _dimension(model: Any, by: By) -> list[Any]:
    if by == "day":
        return []
    if by == "twin":
        return [model.collection, model.token_id]
    return [getattr(model, by)]


def _key(by: By, values: tuple[Any, ...], day: date | None) -> str:
    if by == "day":
        return str(day)
    if by == "twin":
        return f"{values[0]}/{values[1]}" if values[0] is not None else "unknown"
    return str(values[0]) if values[0] is not None else "unknown"


def aggregates(s: Session, brand_id: str, first: date, last: date, by: By) -> list[Figure]:
    """The brand's scans from day `first` to day `last` (both included, UTC) by `by`: rollups for
    the rolled days, raw scans for the others. Sessions are distinct per day, twin, country and
    channel (the rollups' grain), summed: a buyer scanning one twin all day in one place counts once."""
    totals: dict[str, list[int]] = {}

    def add(key: str, scans: int, sessions: int, taps: int) -> None:
        row = totals.setdefault(key, [0, 0, 0])
        row[0] += int(scans)
        row[1] += int(sessions)
        row[2] += int(taps)

    boundary = rolled_until(s) or first
    dims = _dimension(ScanDaily, by)
    if first < boundary:
        group = [col(ScanDaily.day)] if by == "day" else dims
        query = (
            sa_select(*group, func.sum(ScanDaily.scans), func.sum(ScanDaily.sessions), func.sum(ScanDaily.taps))
            .where(col(ScanDaily.brand_id) == brand_id, col(ScanDaily.day) >= first, col(ScanDaily.day) <= last)
            .where(col(ScanDaily.day) < boundary)
            .group_by(*group)
        )
        for row in s.execute(query):
            values = tuple(row)
            day = values[0] if by == "day" else None
            add(_key(by, values[: len(group)], day), *values[len(group) :])
    # The raw part is counted at the rollups' grain (twin, country, channel), so "sessions" means the
    # same on either side of the boundary.
    grain = [col(Scan.collection), col(Scan.token_id), col(Scan.country), col(Scan.channel)]
    taps = func.sum(case((col(Scan.channel) == "tap", 1), else_=0))
    day = max(first, boundary)
    while day <= min(last, datetime.now(UTC).date()):
        query = (
            sa_select(*grain, func.count(), func.count(col(Scan.session).distinct()), taps)
            .where(col(Scan.brand_id) == brand_id)
            .where(col(Scan.at) >= _start(day), col(Scan.at) < _start(day + timedelta(days=1)))
            .group_by(*grain)
        )
        for collection, token_id, country, channel, *counts in s.execute(query):
            named = {"collection": collection, "country": country, "channel": channel}
            picked = (collection, token_id) if by == "twin" else (named.get(by),)
            add(_key(by, picked, day), *counts)
        day += timedelta(days=1)
    return [Figure(k, *v) for k, v in sorted(totals.items())]


# ------------------------------------------------------------------ export


CSV_FIELDS = (
    "id",
    "at",
    "channel",
    "arrival",
    "collection",
    "token_id",
    "tag_kind",
    "tag_id",
    "counter",
    "valid",
    "block_number",
    "country",
    "region",
    "latitude",
    "longitude",
    "network",
    "session",
    "agent",
    "language",
    "evidence",
)


def csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets an apostrophe
    (OWASP CSV injection). Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(engine: Engine, brand_id: str, since: datetime, until: datetime, page: int = 1000) -> Iterator[bytes]:
    """The brand's scans in time order as CSV, a page of rows per chunk (keyset: never OFFSET)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    yield out.getvalue().encode()
    after: tuple[datetime, int] | None = None
    while True:
        with session_scope(engine) as s:
            query = select(Scan).where(Scan.brand_id == brand_id, col(Scan.at) >= since, col(Scan.at) < until)
            if after is not None:
                query = query.where(tuple_(col(Scan.at), col(Scan.id)) > tuple_(literal(after[0]), literal(after[1])))
            rows = list(s.exec(query.order_by(col(Scan.at), col(Scan.id)).limit(page)))
        if not rows:
            return
        out.seek(0)
        out.truncate()
        for r in rows:
            at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
            values = [getattr(r, name) for name in CSV_FIELDS]
            values[1] = at.isoformat()
            writer.writerow([csv_cell(v) for v in values])
        yield out.getvalue().encode()
        assert rows[-1].id is not None
        after = (rows[-1].at, rows[-1].id)


# ------------------------------------------------------------------ deletion


def count_session(s: Session, session: str) -> int:
    return int(s.exec(select(func.count()).select_from(Scan).where(Scan.session == session)).one())


def delete_session(s: Session, session: str, brand_id: str | None = None) -> int:
    """Deletes a session's raw scans (of one brand, or all when `brand_id` is None); how many. The
    daily rollups hold counts only and stay."""
    stmt = delete(Scan).where(col(Scan.session) == session)
    if brand_id is not None:
        stmt = stmt.where(col(Scan.brand_id) == brand_id)
    return int(s.connection().execute(stmt).rowcount or 0)
