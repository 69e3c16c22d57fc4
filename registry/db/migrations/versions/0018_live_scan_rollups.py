"""live scan rollups: per-twin daily rows and windows, group keys for the writer's upserts, a live day's sessions

Revision ID: 0018
Revises: 0017

The days not rolled up yet (today, usually) get their live rows from the raw log here, as the scan
writer would have left them (`registry.scans.live.recount_live`, restated: migrations do not import
the code they outlive).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LIVE = sa.text("grp IS NOT NULL")

scans = sa.table(
    "scans",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("brand_id", sa.String()),
    sa.column("collection", sa.String()),
    sa.column("token_id", sa.BigInteger()),
    sa.column("country", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("session", sa.String()),
)


def _key(*columns: Any) -> Any:
    """`registry.scans.live.group_key` in SQL."""
    out: Any = None
    for c in columns:
        part = sa.func.coalesce(sa.cast(c, sa.String()), "")
        out = part if out is None else out.op("||")("|").op("||")(part)
    return out


def upgrade() -> None:
    op.add_column("scan_daily_totals", sa.Column("grp", sa.String(), nullable=True))
    op.create_index(
        "uq_scan_daily_totals_live",
        "scan_daily_totals",
        ["day", "grp"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_table(
        "scan_daily_twins",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brand_id", sa.String(), nullable=True),
        sa.Column("collection", sa.String(), nullable=True),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("taps", sa.BigInteger(), nullable=False),
        sa.Column("grp", sa.String(), nullable=True),
    )
    op.create_index("ix_scan_daily_twins_brand_day", "scan_daily_twins", ["brand_id", "day"])
    op.create_index(
        "uq_scan_daily_twins_live",
        "scan_daily_twins",
        ["day", "grp"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_table(
        "scan_twin_windows",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("first", sa.Date(), nullable=False),
        sa.Column("last", sa.Date(), nullable=False),
        sa.Column("brand_id", sa.String(), nullable=True),
        sa.Column("collection", sa.String(), nullable=True),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("taps", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_scan_twin_windows_brand", "scan_twin_windows", ["brand_id", "first", "last"])
    op.create_table(
        "scan_day_sessions",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("grp", sa.String(), primary_key=True),
        sa.Column("session", sa.String(), primary_key=True),
        sa.Column("brand_id", sa.String(), nullable=True),
    )
    # Rolled days: the per-twin rows are `scan_daily` summed over country and channel.
    op.execute(
        "INSERT INTO scan_daily_twins (day, brand_id, collection, token_id, scans, sessions, taps) "
        "SELECT day, brand_id, collection, CASE WHEN collection IS NULL THEN NULL ELSE token_id END, "
        "sum(scans), sum(sessions), sum(taps) FROM scan_daily "
        "GROUP BY day, brand_id, collection, CASE WHEN collection IS NULL THEN NULL ELSE token_id END"
    )
    conn = op.get_bind()
    rolled = conn.execute(sa.text("SELECT max(day) FROM scan_rollups")).scalar()
    if rolled is not None:
        _windows(conn, _as_date(rolled))
    first, last = conn.execute(sa.select(sa.func.min(scans.c.at), sa.func.max(scans.c.at))).one()
    if last is None:
        return
    day = _as_date(rolled) + timedelta(days=1) if rolled is not None else _utc_day(first)
    while day <= _utc_day(last):
        _live_day(conn, day)
        day += timedelta(days=1)


def _utc_day(at: datetime) -> date:
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _windows(conn: sa.Connection, day: date) -> None:
    """`registry.scans.service.twin_windows` (the 7-, 30- and 90-day windows ending today and tomorrow)."""
    twins = sa.table("scan_daily_twins", *map(sa.column, ("day", "brand_id", "collection", "token_id")))
    sums: list[Any] = [sa.func.sum(sa.column(c)) for c in ("scans", "sessions", "taps")]
    names = ["first", "last", "brand_id", "collection", "token_id", "scans", "sessions", "taps"]
    windows = sa.table("scan_twin_windows", *map(sa.column, names))
    group = [twins.c.brand_id, twins.c.collection, twins.c.token_id]
    for days in (7, 30, 90):
        for ahead in (1, 2):
            first = day - timedelta(days=days - 1 - ahead)
            query = sa.select(sa.literal(first), sa.literal(day), *group, *sums)
            query = query.select_from(twins).where(twins.c.day >= first, twins.c.day <= day).group_by(*group)
            conn.execute(windows.insert().from_select(names, query))


def _live_day(conn: sa.Connection, day: date) -> None:
    start = datetime.combine(day, time(), tzinfo=UTC)
    within = sa.and_(scans.c.at >= start, scans.c.at < start + timedelta(days=1))
    taps = sa.func.sum(sa.case((scans.c.channel == "tap", 1), else_=0))
    sessions = sa.func.count(scans.c.session.distinct())
    s = scans.c
    fine = (
        sa.select(
            s.brand_id, s.collection, s.token_id, sa.func.count().label("n"), sessions.label("u"), taps.label("t")
        )
        .where(within)
        .group_by(s.brand_id, s.collection, s.token_id, s.country, s.channel)
        .subquery()
    )
    token = sa.case((fine.c.collection.is_(None), None), else_=fine.c.token_id)
    twin = [fine.c.brand_id, fine.c.collection, token]
    query = sa.select(
        sa.literal(day), *twin, sa.func.sum(fine.c.n), sa.func.sum(fine.c.u), sa.func.sum(fine.c.t), _key(*twin)
    ).group_by(*twin)
    names = ["day", "brand_id", "collection", "token_id", "scans", "sessions", "taps", "grp"]
    conn.execute(sa.table("scan_daily_twins", *map(sa.column, names)).insert().from_select(names, query))
    total = [s.brand_id, s.collection, s.country, s.channel]
    query = sa.select(sa.literal(day), *total, sa.func.count(), sessions, taps, _key(*total)).where(within)
    names = ["day", "brand_id", "collection", "country", "channel", "scans", "sessions", "taps", "grp"]
    conn.execute(
        sa.table("scan_daily_totals", *map(sa.column, names)).insert().from_select(names, query.group_by(*total))
    )
    for grain in ([s.brand_id, s.collection, s.token_id, s.country, s.channel], total):
        seen = sa.select(sa.literal(day), _key(*grain), s.session, s.brand_id).where(within, s.session.is_not(None))
        names = ["day", "grp", "session", "brand_id"]
        conn.execute(sa.table("scan_day_sessions", *map(sa.column, names)).insert().from_select(names, seen.distinct()))


def downgrade() -> None:
    op.drop_table("scan_day_sessions")
    op.drop_table("scan_twin_windows")
    op.drop_table("scan_daily_twins")
    op.drop_index("uq_scan_daily_totals_live", table_name="scan_daily_totals")
    # Live rows (the days not rolled yet) are dropped: the version before this one counts those days from the raw log.
    op.execute("DELETE FROM scan_daily_totals WHERE grp IS NOT NULL")
    with op.batch_alter_table("scan_daily_totals") as batch:
        batch.drop_column("grp")
