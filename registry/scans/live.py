"""Live rollups: the scan writer adds each batch to its days' rows of `scan_daily_twins` and
`scan_daily_totals`, in the transaction that stores the batch (a batch is counted with its scans or
not at all), so the brand's numbers read rollups only, today included.

Scans and taps add up. Sessions are distinct per day and group: a batch inserts (day, group,
session) into `scan_day_sessions` (ON CONFLICT DO NOTHING ... RETURNING), and only the rows that
come back, first seen, add to `sessions`. A twin's row adds the new sessions of its (twin, country,
channel) groups, as `scan_daily` summed over country and channel gives. When a day is rolled up
(`service.roll_up`) its live rows are replaced by a recount from the raw log and its session rows
deleted; a scan stored later still (more than `service.GRACE` late) adds to the rolled day, its
session counted again.

Groups are keyed by `group_key`, the same text SQL builds (`group_key_sql`), so rows recounted in SQL
(`recount_live`) and rows the writer adds meet on one unique key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, String, case, cast, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from registry.scans.models import Scan, ScanDailyTotal, ScanDailyTwin, ScanDaySession

TWIN_GRAIN = ("collection", "token_id", "country", "channel")  # `scan_daily`; sessions distinct per group
TOTAL_GRAIN = ("collection", "country", "channel")  # `scan_daily_totals`


def group_key(*values: object) -> str:
    """A group's key: its values joined, None as empty (no brand, collection or country is empty)."""
    return "|".join("" if v is None else str(v) for v in values)


def group_key_sql(*columns: Any) -> ColumnElement[str]:
    """`group_key` in SQL (`||` on SQLite and PostgreSQL)."""
    parts: list[Any] = [func.coalesce(cast(c, String), "") for c in columns]
    out: Any = parts[0]
    for part in parts[1:]:
        out = out.op("||")("|").op("||")(part)
    return out  # type: ignore[no-any-return]


def day_of(at: datetime) -> date:
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def _insert(conn: Connection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def add_batch(conn: Connection, scans: Iterable[Mapping[str, Any]]) -> None:
    """Adds stored scans (their column values) to their days' live rollups, in `conn`'s transaction."""
    twins: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    seen: dict[tuple[date, str, str], tuple[Any, ...]] = {}  # (day, group, session) -> counters' key
    for r in scans:
        day, brand, collection = day_of(r["at"]), r["brand_id"], r["collection"]
        twin = (day, brand, collection, r["token_id"] if collection is not None else None)
        total = (day, brand, collection, r["country"], r["channel"])
        tap = 1 if r["channel"] == "tap" else 0
        for counts in (twins[twin], totals[total]):
            counts[0] += 1
            counts[2] += tap
        if r["session"] is not None:
            fine = group_key(brand, *(r[k] for k in TWIN_GRAIN))
            seen[(day, fine, r["session"])] = ("twin", twin, brand)
            seen[(day, group_key(*total[1:]), r["session"])] = ("total", total, brand)
    if seen:
        # Sorted: two processes' writers take the rows' locks in one order (no deadlock on PostgreSQL).
        rows = [{"day": k[0], "grp": k[1], "session": k[2], "brand_id": v[2]} for k, v in sorted(seen.items())]
        stmt = _insert(conn)(ScanDaySession).on_conflict_do_nothing()
        stmt = stmt.returning(col(ScanDaySession.day), col(ScanDaySession.grp), col(ScanDaySession.session))
        for day, grp, session in conn.execute(stmt, rows).all():
            kind, key, _ = seen[(day, grp, session)]
            (twins if kind == "twin" else totals)[key][1] += 1
    _upsert(conn, ScanDailyTwin, ("day", "brand_id", "collection", "token_id"), twins)
    _upsert(conn, ScanDailyTotal, ("day", "brand_id", "collection", "country", "channel"), totals)


def _upsert(conn: Connection, table: Any, names: tuple[str, ...], counts: Mapping[tuple[Any, ...], list[int]]) -> None:
    if not counts:
        return
    rows = [
        dict(zip(names, key, strict=True)) | {"grp": group_key(*key[1:]), "scans": c[0], "sessions": c[1], "taps": c[2]}
        for key, c in counts.items()
    ]
    rows.sort(key=lambda r: (r["day"], r["grp"]))
    stmt = _insert(conn)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "grp"],
        index_where=col(table.grp).is_not(None),
        set_={n: getattr(table, n) + getattr(stmt.excluded, n) for n in ("scans", "sessions", "taps")},
    )
    conn.execute(stmt, rows)


# ------------------------------------------------------------------ recounts from the raw log


def _bounds(day: date) -> ColumnElement[bool]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return (col(Scan.at) >= start) & (col(Scan.at) < start + timedelta(days=1))


def clear_day(conn: Connection, day: date) -> None:
    """Deletes a day's live rows and session rows (before a recount replaces them)."""
    for table in (ScanDailyTwin, ScanDailyTotal, ScanDaySession):
        conn.execute(delete(table).where(col(table.day) == day))


def twin_counts(day: date) -> Any:
    """The day's raw scans counted per brand and `TWIN_GRAIN` group (a subquery)."""
    taps = func.sum(case((col(Scan.channel) == "tap", 1), else_=0))
    group = [col(Scan.brand_id), *(getattr(Scan, k) for k in TWIN_GRAIN)]
    return (
        select(
            *(c.label(c.key) for c in group),
            func.count().label("scans"),
            func.count(col(Scan.session).distinct()).label("sessions"),
            taps.label("taps"),
        )
        .where(_bounds(day))
        .group_by(*group)
    )


def insert_counts(conn: Connection, day: date, *, live: bool) -> None:
    """Counts the day's raw scans into `scan_daily_twins` and `scan_daily_totals` (`live`: with group
    keys, as the writer leaves them; else keyless, as rolled rows are)."""
    fine = twin_counts(day).subquery()
    token = case((fine.c.collection.is_(None), None), else_=fine.c.token_id)
    twin_group = [fine.c.brand_id, fine.c.collection, token]
    extra = [group_key_sql(*twin_group).label("grp")] if live else []
    query = select(
        literal(day).label("day"),
        *twin_group,
        func.sum(fine.c.scans),
        func.sum(fine.c.sessions),
        func.sum(fine.c.taps),
        *extra,
    ).group_by(*twin_group)
    names = ["day", "brand_id", "collection", "token_id", "scans", "sessions", "taps"] + (["grp"] if live else [])
    conn.execute(ScanDailyTwin.__table__.insert().from_select(names, query))  # type: ignore[attr-defined]
    taps = func.sum(case((col(Scan.channel) == "tap", 1), else_=0))
    group = [col(Scan.brand_id), *(getattr(Scan, k) for k in TOTAL_GRAIN)]
    extra = [group_key_sql(*group).label("grp")] if live else []
    query = (
        select(literal(day).label("day"), *group, func.count(), func.count(col(Scan.session).distinct()), taps, *extra)
        .where(_bounds(day))
        .group_by(*group)
    )
    names = ["day", "brand_id", *TOTAL_GRAIN, "scans", "sessions", "taps"] + (["grp"] if live else [])
    conn.execute(ScanDailyTotal.__table__.insert().from_select(names, query))  # type: ignore[attr-defined]


def recount_live(conn: Connection, day: date) -> None:
    """Rebuilds a day's live rollups and session rows from the raw log: what the writer would have
    left had it stored those scans (a bulk load, a schema upgrade mid-day)."""
    clear_day(conn, day)
    insert_counts(conn, day, live=True)
    for grain in (TWIN_GRAIN, TOTAL_GRAIN):
        grp = group_key_sql(col(Scan.brand_id), *(getattr(Scan, k) for k in grain))
        query = (
            select(literal(day), grp, col(Scan.session), col(Scan.brand_id))
            .where(_bounds(day), col(Scan.session).is_not(None))
            .distinct()
        )
        names = ["day", "grp", "session", "brand_id"]
        conn.execute(ScanDaySession.__table__.insert().from_select(names, query))  # type: ignore[attr-defined]
