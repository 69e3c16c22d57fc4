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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, case, delete, func, insert, literal, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.db.engine import session_scope
from registry.events.models import ChainEvent
from registry.scans.models import Scan, ScanDaily, ScanDailyTotal, ScanRollup

log = logging.getLogger(__name__)

By = Literal["day", "country", "channel", "collection", "twin"]
GRACE = timedelta(minutes=5)
# What a day is rolled up by: per twin (`scan_daily`), and without the twin (`scan_daily_totals`, small,
# read by every view but the per-twin one). Sessions are distinct within one such group.
TWIN_GRAIN = ("collection", "token_id", "country", "channel")
TOTAL_GRAIN = ("collection", "country", "channel")  # a day is rolled this long after it ended (scans still in a queue)


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
    taps = func.sum(case((col(Scan.channel) == "tap", 1), else_=0))
    counts = (func.count(), func.count(col(Scan.session).distinct()), taps)
    for table, keys in ((ScanDaily, TWIN_GRAIN), (ScanDailyTotal, TOTAL_GRAIN)):
        group = [col(Scan.brand_id), *(getattr(Scan, k) for k in keys)]
        query = (
            sa_select(literal(day).label("day"), *group, *counts)
            .where(col(Scan.at) >= _start(day), col(Scan.at) < _start(day + timedelta(days=1)))
            .group_by(*group)
        )
        names = ["day", "brand_id", *keys, "scans", "sessions", "taps"]
        s.connection().execute(insert(table).from_select(names, query))


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
    # From the chain's indexed events and the alerts table; None by country and channel (neither has one).
    claims: int | None = None
    resales: int | None = None
    alerts: int | None = None


def _key(by: By, named: dict[str, Any], day: date) -> str:
    if by == "day":
        return str(day)
    if by == "twin":
        return f"{named['collection']}/{named['token_id']}" if named["collection"] is not None else "unknown"
    return str(named[by]) if named[by] is not None else "unknown"


# An alert as the numbers count it: when it was raised, and its twin (None: a lookup of no twin).
Raised = tuple[datetime, str | None, int | None]


def aggregates(
    s: Session, brand_id: str, first: date, last: date, by: By, alerts: Iterable[Raised] = ()
) -> list[Figure]:
    """The brand's scans from day `first` to day `last` (both included, UTC) by `by`: rollups for
    the rolled days, raw scans (counted at the same grain) for the others. `alerts`: the brand's
    alerts raised in those days (`registry.alerts.actions.raised_between`: alerts read scans, not the
    other way round, so the caller hands them in). Sessions are distinct per
    day and rollup group (twin, country, channel per twin; else collection, country, channel), summed:
    a buyer scanning one twin all day from one place counts once."""
    totals: dict[str, list[int]] = {}
    table: Any = ScanDaily if by == "twin" else ScanDailyTotal
    grain = TWIN_GRAIN if by == "twin" else TOTAL_GRAIN

    def add(key: str, counts: tuple[Any, ...]) -> None:
        row = totals.setdefault(key, [0, 0, 0])
        for i in range(3):
            row[i] += int(counts[i])

    boundary = rolled_until(s) or first
    if first < boundary:
        # The rollups' counts add up over the grain: grouped by the asked dimension only, in SQL.
        names = ("day",) if by == "day" else ("collection", "token_id") if by == "twin" else (by,)
        group = [getattr(table, k) for k in names]
        query = (
            sa_select(*group, func.sum(table.scans), func.sum(table.sessions), func.sum(table.taps))
            .where(table.brand_id == brand_id, table.day >= first, table.day <= last, table.day < boundary)
            .group_by(*group)
        )
        for row in s.execute(query):
            named = dict(zip(names, row, strict=False))
            add(_key(by, named, named.get("day", first)), tuple(row[-3:]))
    taps = func.sum(case((col(Scan.channel) == "tap", 1), else_=0))
    raw = [getattr(Scan, k) for k in grain]
    day = max(first, boundary)
    while day <= min(last, datetime.now(UTC).date()):
        query = (
            sa_select(*raw, func.count(), func.count(col(Scan.session).distinct()), taps)
            .where(col(Scan.brand_id) == brand_id)
            .where(col(Scan.at) >= _start(day), col(Scan.at) < _start(day + timedelta(days=1)))
            .group_by(*raw)
        )
        for row in s.execute(query):
            add(_key(by, dict(zip(grain, row, strict=False)), day), tuple(row[-3:]))
        day += timedelta(days=1)
    if by in ("country", "channel"):
        return [Figure(k, *v) for k, v in sorted(totals.items())]
    others = _owner_and_alert_counts(s, brand_id, first, last, by, alerts)
    keys = sorted(totals.keys() | others.keys())
    return [Figure(k, *totals.get(k, [0, 0, 0]), *others.get(k, [0, 0, 0])) for k in keys]


def _owner_and_alert_counts(
    s: Session, brand_id: str, first: date, last: date, by: By, alerts: Iterable[Raised]
) -> dict[str, list[int]]:
    """Claims, resales and alerts of the brand's twins by day (UTC), collection or twin: claims and
    resales from the indexed chain events of its collections (a resale: a transfer from one holder to
    another; mints, burns, a claim's own transfer and transfers out of a batch's custodian, the brand's
    first sale, excluded), alerts by the day they were raised.
    Counted in SQL per (day, collection, token), which few owner events and alerts keep small."""
    out: dict[str, list[int]] = {}
    start, end = _start(first), _start(last + timedelta(days=1))
    day_of = col(ChainEvent.block_time) // 86_400  # whole UTC days since the epoch (integer division)
    claim = aliased(ChainEvent)
    claim_of_tx = (
        sa_select(col(claim.id))
        .where(
            col(claim.name) == "Claimed",
            col(claim.tx_hash) == col(ChainEvent.tx_hash),
            col(claim.token_id) == col(ChainEvent.token_id),
        )
        .exists()
    )
    minted = aliased(ChainEvent)
    owned = sa_select(col(Collection.address)).where(col(Collection.brand_id) == brand_id)
    # The custodians of any of the brand's collections, uncorrelated: the database reads them once
    # (a subquery correlated on the event's address ran once per event, quadratic in its events).
    custodians = sa_select(col(minted.recipient)).where(
        col(minted.name) == "BatchMinted",
        col(minted.address).in_(owned),
        col(minted.recipient).is_not(None),
    )
    resale = (
        (col(ChainEvent.name) == "Transfer")
        & col(ChainEvent.sender).is_not(None)  # not a mint
        & col(ChainEvent.recipient).is_not(None)  # not a burn
        & ~claim_of_tx
        & col(ChainEvent.sender).not_in(custodians)  # not the brand's first sale out of its stock
    )
    events = (
        sa_select(
            day_of,
            col(ChainEvent.address),
            col(ChainEvent.token_id),
            func.sum(case((col(ChainEvent.name) == "Claimed", 1), else_=0)),
            func.sum(case((resale, 1), else_=0)),
        )
        .where(col(ChainEvent.address).in_(owned), col(ChainEvent.name).in_(("Claimed", "Transfer")))
        .where(col(ChainEvent.block_time) >= int(start.timestamp()), col(ChainEvent.block_time) < int(end.timestamp()))
        .group_by(day_of, col(ChainEvent.address), col(ChainEvent.token_id))
    )
    for days, collection, token_id, claims, resales in s.execute(events):
        if claims or resales:
            key = _owner_key(by, date(1970, 1, 1) + timedelta(days=int(days)), collection, token_id)
            row = out.setdefault(key, [0, 0, 0])
            row[0] += int(claims)
            row[1] += int(resales)
    for raised_at, collection, token_id in alerts:
        out.setdefault(_owner_key(by, raised_at.date(), collection, token_id), [0, 0, 0])[2] += 1
    return out


def _owner_key(by: By, day: date, collection: str | None, token_id: int | None) -> str:
    return _key(by, {"collection": collection, "token_id": token_id}, day)


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
