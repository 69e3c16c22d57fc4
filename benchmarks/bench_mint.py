"""Mint throughput: 10,000 physical twins submitted through the HTTP API as batches, timed from the
first request until every twin is confirmed on chain and recorded in the registry.

Embedded stack (local Anvil with automine, local block store, SQLite), one `twinmark serve` process.

    .venv/bin/python -m benchmarks.bench_mint [--twins 10000] [--per-request 2000]
"""

from __future__ import annotations

import argparse
import time

import httpx

from benchmarks.benchlib import service


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--per-request", type=int, default=2_000)
    args = parser.parse_args()
    with service() as svc:
        brand, _ = svc.brand("Bench Mint", "BMNT")
        requests = [
            {
                "twins": [
                    {
                        "kind": "physical",
                        "name": f"Bench twin {i}",
                        "description": "Benchmark twin",
                        "gtin": "4006381333931",
                        "serial": f"BM{i:08d}",
                        "materials": [{"name": "Calfskin", "percent": 100}],
                        "origin_country": "FR",
                    }
                    for i in range(start, min(start + args.per_request, args.twins))
                ]
            }
            for start in range(0, args.twins, args.per_request)
        ]
        with httpx.Client(base_url=svc.url, headers=brand, timeout=300) as client:
            started = time.perf_counter()
            jobs = [client.post("/v1/batches", json=body).json()["id"] for body in requests]
            accepted = time.perf_counter() - started
            pending = set(jobs)
            recorded = 0
            while pending:
                for job_id in list(pending):
                    job = client.get(f"/v1/jobs/{job_id}", params={"limit": 1}).json()
                    if job["state"] == "failed":
                        raise SystemExit(f"job {job_id} failed: {job['error']}")
                    if job["state"] == "completed":
                        pending.discard(job_id)
                        recorded += job["counts"]["recorded"]
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            # Spot-check the chain through the API: the last twin of the last job exists on chain.
            last = client.get(f"/v1/jobs/{jobs[-1]}", params={"limit": 1, "offset": args.per_request - 1}).json()
            twin = last["twins"][-1]
            on_chain = client.get(f"/v1/twins/{twin['contract']}/{twin['token_id']}").json()["on_chain"]["exists"]
    print(f"{recorded} twins in {len(jobs)} requests: accepted in {accepted:.2f} s, all recorded after {elapsed:.2f} s")
    print(f"throughput: {recorded / elapsed:.0f} twins/s (target >= 1,500)")
    assert recorded == args.twins and on_chain


if __name__ == "__main__":
    main()
