"""Verify throughput and latency at 32 concurrent clients, next to a bare FastAPI endpoint.

Both servers are one uvicorn process each, started the same way; the load comes from `wrk`
(Debian package `wrk`) with 2 threads and 32 connections for 10 s after a 2 s warm-up. The service
is measured with metrics off (`TWINMARK_METRICS_ENABLED=false`) and on, in the same run, alternating
`--rounds` times (on must stay within 5 % of off); `--multiprocess` also measures metrics on with a
`PROMETHEUS_MULTIPROC_DIR` (what several API workers need: values in shared memory-mapped files).

    .venv/bin/python -m benchmarks.bench_verify [--rounds N] [--multiprocess]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import HttpMetrics
from benchmarks.benchlib import ROOT, free_port, parse_wrk, service, wait_http

DURATION = "10s"


def wrk(url: str) -> dict[str, float]:
    subprocess.run(["wrk", "-t2", "-c32", "-d2s", url], capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{DURATION}", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out)


def warm_verify(**env: str) -> dict[str, float]:
    """wrk against one twin's verification on a fresh service started with `env`."""
    with service(ROOT, **env) as svc:
        brand, _ = svc.brand("Bench Verify", "BVER")
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        image = httpx.post(f"{svc.url}/v1/assets", files={"file": ("a.png", io.BytesIO(png))}, headers=brand).json()[
            "cid"
        ]
        twin = {"kind": "physical", "name": "Bench bag", "gtin": "4006381333931", "serial": "B-1", "images": [image]}
        job = httpx.post(f"{svc.url}/v1/twins", json=twin, headers=brand).json()
        while job["state"] not in ("completed", "failed"):
            time.sleep(0.1)
            job = httpx.get(f"{svc.url}/v1/jobs/{job['id']}", headers=brand).json()
        t = job["twins"][0]
        verify_url = f"{svc.url}/v1/verify/{t['contract']}/{t['token_id']}"
        assert httpx.get(verify_url).json()["authentic"] is True
        return wrk(verify_url)


def middleware_cost(n: int = 200_000) -> float:
    """Microseconds the HTTP metrics add to one request (counted and timed around a trivial ASGI app,
    in this process): a figure that does not move with the machine's load as wrk's do."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    async def timed(target: ASGIApp) -> float:
        scope = {"type": "http", "method": "GET", "path": "/v1/verify/0x/1"}
        started = time.perf_counter()
        for _ in range(n):
            await target(scope, receive, send)
        return time.perf_counter() - started

    async def both() -> float:
        return await timed(HttpMetrics(app)) - await timed(app)

    return asyncio.run(both()) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="metrics off/on pairs, alternating")
    parser.add_argument("--multiprocess", action="store_true", help="also metrics on with PROMETHEUS_MULTIPROC_DIR")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    runs: dict[str, list[dict[str, float]]] = {"metrics off": [], "metrics on": []}
    for n in range(args.rounds):
        # Alternating which goes first: a machine getting busier or quieter favours neither.
        for on in (False, True) if n % 2 == 0 else (True, False):
            runs[f"metrics {'on' if on else 'off'}"].append(warm_verify(TWINMARK_METRICS_ENABLED=str(on).lower()))
        if args.multiprocess:
            with tempfile.TemporaryDirectory(prefix="twinmark-prom-") as shared:
                shared_on = warm_verify(TWINMARK_METRICS_ENABLED="true", PROMETHEUS_MULTIPROC_DIR=shared)
            runs.setdefault("metrics on, multiprocess", []).append(shared_on)
    # The best round of each: the least disturbed by whatever else the machine was doing (the median
    # too, over several rounds).
    best = {name: max(results, key=lambda r: r["rps"]) for name, results in runs.items()}
    median = {name: statistics.median(r["rps"] for r in results) for name, results in runs.items()}
    verify = best["metrics on"]

    port = free_port()
    bare_proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_bare", str(port)], cwd=ROOT)
    try:
        wait_http(f"http://127.0.0.1:{port}/bare")
        bare = wrk(f"http://127.0.0.1:{port}/bare")
    finally:
        bare_proc.terminate()
        bare_proc.wait()

    print(f"{'endpoint':<44}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, result in best.items():
        label = f"GET /v1/verify (warm twin), {name}"
        print(f"{label:<44}{result['rps']:>10.0f}{result['p50']:>10.2f}{result['p99']:>10.2f}")
        if args.rounds > 1:
            rounds = ", ".join(f"{r['rps']:.0f}" for r in runs[name])
            print(f"{'  every round, req/s':<44}{rounds} (median {median[name]:.0f})")
    print(f"{'bare FastAPI JSON':<44}{bare['rps']:>10.0f}{bare['p50']:>10.2f}{bare['p99']:>10.2f}")
    for name in best:
        if name != "metrics off":
            cost = 1 - best[name]["rps"] / best["metrics off"]["rps"]
            typical = 1 - median[name] / median["metrics off"]
            print(f"{name} vs off: {cost:+.1%} throughput cost, best rounds; {typical:+.1%} medians (target <= 5 %)")
    print(f"HTTP metrics per request, measured in-process: {middleware_cost():.1f} us (one process's values)")
    ratio = verify["rps"] / bare["rps"]
    print(f"throughput ratio verify/bare: {ratio:.2f} (target >= 0.5)")
    print(f"verify p99: {verify['p99']:.2f} ms (target < 20)")


if __name__ == "__main__":
    main()
