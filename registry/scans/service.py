"""The brand's numbers from the scan log, retention, and deletion on request. Every query of a brand's
data names the brand (`brand_id = ...`): no route reads another brand's scans.

The numbers read rollups only: `scan_daily_totals` (per day, brand, collection, country, channel)
and `scan_daily_twins` (per day, brand, twin), which the scan writer keeps live (`registry.scans.live`)
for the days not rolled yet. Once a UTC day is over (plus `GRACE`) it is rolled up: its live rows
are replaced by a recount from the raw log, `scan_daily` (per twin, country and channel) is written,
its session rows are deleted, and (the newest day rolled) the per-twin sums of the standard windows
(`scan_twin_windows`, `WINDOWS`) are recomputed. Raw scans older than the retention are then deleted;
the rollups stay."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import product
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, func, insert, literal, tuple_, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.db.engine import session_scope
from registry.db.pairs import pairs_in
from registry.errors import InvalidInput
from registry.events import owner_days
from registry.events.models import OwnerDay
from registry.scans import live
from registry.scans.models import (
    Scan,
    ScanDaily,
    ScanDailyTotal,
    ScanDailyTwin,
    ScanDaySession,
    ScanRollup,
    ScanTwinWindow,
)

log = logging.getLogger(__name__)

By = Literal["day", "country", "channel", "collection", "twin"]
GRACE = timedelta(minutes=5)  # a day is rolled this long after it ended (scans still in a queue)
TWIN_GRAIN = live.TWIN_GRAIN
TOTAL_GRAIN = live.TOTAL_GRAIN
WINDOWS = (7, 30, 90)  # days with today: the ranges a dashboard asks, read per twin from `scan_twin_windows`


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
            start = live.day_of(first)
    day = start
    while day <= last_complete:
        try:
            with session_scope(engine) as s:
                s.add(ScanRollup(day=day))
                s.flush()  # a second process rolling this day fails here, before any row
                _roll_day(s, day)
                if day == last_complete:  # the newest rolled day: the windows end there
                    twin_windows(s.connection(), day)
        except IntegrityError:
            log.info("scan rollup of %s done by another process", day)
        done.append(day)
        day += timedelta(days=1)
    return done


def _roll_day(s: Session, day: date) -> None:
    """Replaces the day's live rollups with a recount of its raw scans (whatever the writer added, or
    missed: the raw log decides) and deletes its session rows."""
    conn = s.connection()
    live.clear_day(conn, day)
    conn.execute(delete(ScanDaily).where(col(ScanDaily.day) == day))
    fine = live.twin_counts(day).subquery()
    names = ["brand_id", *TWIN_GRAIN, "scans", "sessions", "taps"]
    query = sa_select(literal(day).label("day"), *(fine.c[n] for n in names))
    conn.execute(insert(ScanDaily).from_select(["day", *names], query))
    live.insert_counts(conn, day, live=False)


def twin_windows(conn: Connection, day: date) -> None:
    """Recomputes `scan_twin_windows` up to `day` (rolled, yesterday) for the `WINDOWS` that end today,
    and for those that end tomorrow (read between midnight and the rollup of today, the day before)."""
    conn.execute(delete(ScanTwinWindow).where(col(ScanTwinWindow.last) <= day))
    t: Any = ScanDailyTwin
    group = (t.brand_id, t.collection, t.token_id)
    for days, ahead in product(WINDOWS, (1, 2)):
        first = day - timedelta(days=days - 1 - ahead)
        sums = (func.sum(t.scans), func.sum(t.sessions), func.sum(t.taps))
        query = (
            sa_select(literal(first), literal(day), *group, *sums).where(t.day >= first, t.day <= day).group_by(*group)
        )
        names = ["first", "last", "brand_id", "collection", "token_id", "scans", "sessions", "taps"]
        conn.execute(insert(ScanTwinWindow).from_select(names, query))


def purge(engine: Engine, retention_days: int, *, now: datetime | None = None) -> int:
    """Deletes raw scans older than `retention_days` whose day is rolled up, and the session rows of
    rolled days (a scan stored after its day was rolled leaves some); the number of scans deleted."""
    now = now or datetime.now(UTC)
    with session_scope(engine) as s:
        rolled = rolled_until(s)
        cutoff = _start(now.date() - timedelta(days=retention_days))
        if rolled is not None:
            cutoff = min(cutoff, _start(rolled))
        else:
            return 0
        s.connection().execute(delete(ScanDaySession).where(col(ScanDaySession.day) < rolled))
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
    # From the chain's indexed events and the alerts table; None by country and channel (neither has one).
    claims: int | None = None
    resales: int | None = None
    alerts: int | None = None


@dataclass(frozen=True)
class After:
    """The per-twin view's cursor: the last twin of the page before (scans, collection, token; ''
    and -1 for a scan of no known twin), in the view's order (scans down, then collection, token)."""

    scans: int
    collection: str
    token_id: int

    def encode(self) -> str:
        return f"{self.scans}.{self.collection}.{self.token_id}"

    @classmethod
    def decode(cls, text: str) -> After:
        try:
            scans, collection, token_id = text.split(".")
            return cls(int(scans), collection, int(token_id))
        except ValueError:
            raise InvalidInput("`after` is not a cursor this route gave") from None


@dataclass(frozen=True)
class Numbers:
    figures: list[Figure]
    after: After | None = None  # per twin: more twins follow; ask again with this cursor


def _key(by: By, named: dict[str, Any], day: date) -> str:
    if by == "day":
        return str(day)
    if by == "twin":
        return f"{named['collection']}/{named['token_id']}" if named["collection"] is not None else "unknown"
    return str(named[by]) if named[by] is not None else "unknown"


# An alert as the numbers count it: when it was raised, and its twin (None: a lookup of no twin).
Raised = tuple[datetime, str | None, int | None]


def aggregates(
    s: Session,
    brand_id: str,
    first: date,
    last: date,
    by: By,
    alerts: Iterable[Raised] = (),
    *,
    limit: int | None = None,
    after: After | None = None,
) -> Numbers:
    """The brand's scans from day `first` to day `last` (both included, UTC) by `by`, from the
    rollups (kept live for today by the writer). `alerts`: the brand's alerts raised in those days
    (`registry.alerts.actions.raised_between`: alerts read scans, not the other way round, so the
    caller hands them in). Sessions are distinct per day and rollup group (twin, country, channel
    per twin; else collection, country, channel), summed: a buyer scanning one twin all day from one
    place counts once. By twin: at most `limit` twins, most scanned first, after `after`; twins with
    claims, resales or alerts but no scans in the range come on the last page."""
    if by == "twin":
        return _twins(s, brand_id, first, last, alerts, limit, after)
    names = ("day",) if by == "day" else (by,)
    group = [getattr(ScanDailyTotal, k) for k in names]
    t: Any = ScanDailyTotal
    query = (
        sa_select(*group, func.sum(t.scans), func.sum(t.sessions), func.sum(t.taps))
        .where(t.brand_id == brand_id, t.day >= first, t.day <= last)
        .group_by(*group)
    )
    totals: dict[str, list[int]] = {}
    for row in s.execute(query):
        named = dict(zip(names, row, strict=False))
        key = _key(by, named, named.get("day", first))
        counts = totals.setdefault(key, [0, 0, 0])  # a country None and "unknown" never both: one key each
        for i in range(3):
            counts[i] += int(row[-3 + i])
    if by in ("country", "channel"):
        return Numbers([Figure(k, *v) for k, v in sorted(totals.items())])
    others = _owner_and_alert_counts(s, brand_id, first, last, by, alerts)
    keys = sorted(totals.keys() | others.keys())
    return Numbers([Figure(k, *totals.get(k, [0, 0, 0]), *others.get(k, [0, 0, 0])) for k in keys])


def _twins(
    s: Session, brand_id: str, first: date, last: date, alerts: Iterable[Raised], limit: int | None, after: After | None
) -> Numbers:
    t: Any = ScanDailyTwin
    w: Any = ScanTwinWindow
    columns = ("collection", "token_id", "scans", "sessions", "taps")
    # A standard window starting at `first` (its rows up to `window`) plus the days after it, or the days.
    window = s.execute(
        sa_select(w.last)
        .where(w.brand_id == brand_id, w.first == first, w.last >= first, w.last <= last)
        .order_by(w.last.desc())
        .limit(1)
    ).scalar()
    days = sa_select(*(getattr(t, c) for c in columns)).where(t.brand_id == brand_id, t.day <= last)
    if window is not None:
        summed = sa_select(*(getattr(w, c) for c in columns)).where(
            w.brand_id == brand_id, w.first == first, w.last == window
        )
        rows_of: Any = union_all(summed, days.where(t.day > window)).subquery()
    else:
        rows_of = days.where(t.day >= first).subquery()
    r = rows_of.c
    scans = func.sum(r.scans)
    order = (func.coalesce(r.collection, ""), func.coalesce(r.token_id, -1))
    query = (
        sa_select(r.collection, r.token_id, scans, func.sum(r.sessions), func.sum(r.taps))
        .group_by(r.collection, r.token_id)
        .order_by(scans.desc(), *order)
    )
    if after is not None:
        query = query.having(
            (scans < after.scans)
            | ((scans == after.scans) & (tuple_(*order) > tuple_(literal(after.collection), literal(after.token_id))))
        )
    if limit is not None:
        query = query.limit(limit + 1)  # one more: whether a next page exists
    rows = list(s.execute(query))
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    others = _owner_and_alert_counts(s, brand_id, first, last, "twin", alerts)
    figures = []
    for collection, token_id, *counts in rows:
        key = _key("twin", {"collection": collection, "token_id": token_id}, first)
        figures.append(Figure(key, *(int(c) for c in counts), *others.get(key, [0, 0, 0])))
    if more:
        c, tok, n = rows[-1][0], rows[-1][1], rows[-1][2]
        return Numbers(figures, After(int(n), c or "", -1 if c is None or tok is None else int(tok)))
    # The last page: the twins with owner events or alerts and no scans in the range.
    unscanned = set(others) - _scanned(s, brand_id, first, last, others.keys())
    figures += [Figure(k, 0, 0, 0, *others[k]) for k in sorted(unscanned)]
    return Numbers(figures)


def _scanned(s: Session, brand_id: str, first: date, last: date, keys: Iterable[str]) -> set[str]:
    """Which of the per-twin view's `keys` have scans in the range."""
    t: Any = ScanDailyTwin
    in_range = (t.brand_id == brand_id, t.day >= first, t.day <= last)
    found: set[str] = set()
    pairs = [(c, int(n)) for c, _, n in (k.rpartition("/") for k in keys if k != "unknown")]
    for i in range(0, len(pairs), 500):
        query = sa_select(t.collection, t.token_id).where(
            *in_range, pairs_in(t.collection, t.token_id, pairs[i : i + 500])
        )
        found |= {f"{c}/{n}" for c, n in s.execute(query.distinct())}
    if "unknown" in keys and s.execute(sa_select(t.id).where(*in_range, t.collection.is_(None)).limit(1)).first():
        found.add("unknown")
    return found


def _owner_and_alert_counts(
    s: Session, brand_id: str, first: date, last: date, by: By, alerts: Iterable[Raised]
) -> dict[str, list[int]]:
    """Claims, resales and alerts of the brand's twins by day (UTC), collection or twin: claims and
    resales of its collections (`registry.events.owner_days`: by day and collection from the rollup
    the indexer keeps, by twin counted from the range's events), alerts by the day they were raised."""
    out: dict[str, list[int]] = {}
    owned = sa_select(col(Collection.address)).where(col(Collection.brand_id) == brand_id)
    if by == "twin":
        start, end = int(_start(first).timestamp()), int(_start(last + timedelta(days=1)).timestamp())
        for days, collection, token_id, claims, resales in s.execute(
            owner_days.counted(owned, owned, start, end, by_token=True)
        ):
            if claims or resales:  # a twin's days add up
                row = out.setdefault(_owner_key(by, owner_days.day_of(int(days)), collection, token_id), [0, 0, 0])
                row[0] += int(claims)
                row[1] += int(resales)
    else:
        o: Any = OwnerDay
        group = o.day if by == "day" else o.collection
        query = (
            sa_select(group, func.sum(o.claims), func.sum(o.resales))
            .where(o.collection.in_(owned), o.day >= first, o.day <= last)
            .group_by(group)
        )
        for value, claims, resales in s.execute(query):
            if claims or resales:  # by day the date's ISO text, by collection its address: as `_key` gives
                out[str(value)] = [int(claims), int(resales), 0]
    for raised_at, collection, token_id in alerts:
        out.setdefault(_owner_key(by, raised_at.date(), collection, token_id), [0, 0, 0])[2] += 1
    return out


def _owner_key(by: By, day: date, collection: str | None, token_id: int | None) -> str:
    return _key(by, {"collection": collection, "token_id": token_id}, day)


# ------------------------------------------------------------------ deletion


def count_session(s: Session, session: str) -> int:
    return int(s.exec(select(func.count()).select_from(Scan).where(Scan.session == session)).one())


def delete_session(s: Session, session: str, brand_id: str | None = None) -> int:
    """Deletes a session's raw scans (of one brand, or all when `brand_id` is None) and its rows in
    the live days' session lists; how many scans. The daily rollups hold counts only and stay (a
    deleted session scanning again the same day counts again)."""
    seen = delete(ScanDaySession).where(col(ScanDaySession.session) == session)
    stmt = delete(Scan).where(col(Scan.session) == session)
    if brand_id is not None:
        seen = seen.where(col(ScanDaySession.brand_id) == brand_id)
        stmt = stmt.where(col(Scan.brand_id) == brand_id)
    s.connection().execute(seen)
    return int(s.connection().execute(stmt).rowcount or 0)
