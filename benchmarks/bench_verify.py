"""Verify throughput and latency at 32 concurrent clients: metrics off and on, side by side, next to a
bare FastAPI endpoint and to the service with the scan log off.

Every variant is one uvicorn process (`twinmark serve` on its own embedded stack), all started before
the first measurement and measured in turns: each round runs `wrk` (Debian package `wrk`, 2 threads,
32 connections, a 2 s warm-up then `--seconds`) against every variant once, the order reversed every
other round, so a machine getting busier or quieter favours none. Each round verifies a twin of its
own, the same one on every variant: every verification is a scan the scan log writes and the alert
rules read, and one twin's growing history would otherwise make each round slower than the last.

    .venv/bin/python -m benchmarks.bench_verify [--rounds N] [--seconds S] [--multiprocess] [--no-reference]

`--multiprocess` adds metrics on with a `PROMETHEUS_MULTIPROC_DIR` (what several API workers need:
values in shared memory-mapped files). The references (`--no-reference` leaves them out): every scan
recorded (the per-network cap off: what a scan costs), and the scan log off. The comparison that
matters is metrics on vs off (target: on within 5 %), by the medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from benchmarks.benchlib import ROOT, Service, cpu_seconds, free_port, parse_wrk, service, wait_http


def settled(pid: int, limit: float = 60.0) -> float:
    """Waits until the process is idle again (under 10 % of a core over half a second: its scan log
    and alert rules have caught up) and returns its CPU time then."""
    deadline = time.monotonic() + limit
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < 0.05:
            return now
        last = now
    return last


def wrk(url: str, seconds: int, pid: int) -> dict[str, float]:
    """wrk's figures, and the CPU time the serving process (every thread) spent per answer: during the
    run and after it, until the work the answers left behind (scans to write, rules to run) is done.
    That is what an answer costs, and the machine's other load moves it far less than it moves req/s.
    Every variant starts settled, so none is measured while another catches up."""
    subprocess.run(["wrk", "-t2", "-c32", "-d2s", url], capture_output=True, check=True)
    before = settled(pid)
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    result = parse_wrk(out)
    return result | {"cpu_us": (settled(pid) - before) / result["requests"] * 1e6}


def twins(svc: Service, count: int) -> list[str]:
    """Mints `count` twins in one batch and returns their verify URLs (the same serials on every variant)."""
    brand, _ = svc.brand("Bench Verify", "BVER")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    image = httpx.post(f"{svc.url}/v1/assets", files={"file": ("a.png", io.BytesIO(png))}, headers=brand).json()["cid"]
    items = [
        {"kind": "physical", "name": "Bench bag", "gtin": "4006381333931", "serial": f"B-{i}", "images": [image]}
        for i in range(count)
    ]
    job = httpx.post(f"{svc.url}/v1/batches", json={"twins": items}, headers=brand, timeout=60).json()
    while job["state"] not in ("completed", "failed"):
        time.sleep(0.1)
        job = httpx.get(f"{svc.url}/v1/jobs/{job['id']}", headers=brand).json()
    urls = [f"{svc.url}/v1/verify/{t['contract']}/{t['token_id']}" for t in job["twins"]]
    assert all(httpx.get(url).json()["authentic"] is True for url in urls)
    return urls


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
    parser.add_argument("--rounds", type=int, default=5, help="turns over every variant")
    parser.add_argument("--seconds", type=int, default=6, help="wrk's measured seconds per variant and round")
    parser.add_argument("--multiprocess", action="store_true", help="also metrics on with PROMETHEUS_MULTIPROC_DIR")
    parser.add_argument("--no-reference", action="store_true", help="without the scan-log-off variant")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    variants: dict[str, dict[str, str]] = {
        "metrics off": {"TWINMARK_METRICS_ENABLED": "false"},
        "metrics on": {"TWINMARK_METRICS_ENABLED": "true"},
    }
    with contextlib.ExitStack() as stack:
        if args.multiprocess:
            shared = stack.enter_context(tempfile.TemporaryDirectory(prefix="twinmark-prom-"))
            variants["metrics on, multiprocess"] = {
                "TWINMARK_METRICS_ENABLED": "true",
                "PROMETHEUS_MULTIPROC_DIR": shared,
            }
        if not args.no_reference:
            # Every verification written: the cost of a scan, which the per-network cap spares this loop.
            variants["every scan recorded (no cap)"] = {
                "TWINMARK_METRICS_ENABLED": "false",
                "TWINMARK_SCAN_RECORD_PER_MINUTE": "0",
            }
            variants["scan log off (reference)"] = {
                "TWINMARK_METRICS_ENABLED": "false",
                "TWINMARK_SCANS_ENABLED": "false",
            }
        services = {name: stack.enter_context(service(ROOT, **env)) for name, env in variants.items()}
        urls = {name: twins(svc, args.rounds) for name, svc in services.items()}
        port = free_port()
        bare_proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_bare", str(port)], cwd=ROOT)
        stack.callback(bare_proc.wait)
        stack.callback(bare_proc.terminate)
        wait_http(f"http://127.0.0.1:{port}/bare")
        names = [*variants, "bare FastAPI JSON"]
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for n in range(args.rounds):
            for name in names if n % 2 == 0 else reversed(names):
                if name in urls:
                    runs[name].append(wrk(urls[name][n], args.seconds, services[name].pid))
                else:
                    runs[name].append(wrk(f"http://127.0.0.1:{port}/bare", args.seconds, bare_proc.pid))

    keys = ("rps", "p50", "p99", "cpu_us")
    median = {n: {k: statistics.median(r[k] for r in rs) for k in keys} for n, rs in runs.items()}
    print(f"{args.rounds} rounds of {args.seconds} s per variant, in turns; medians over the rounds")
    print(f"{'endpoint':<52}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU us':>8}   every round, req/s")
    for name, m in median.items():
        label = name if name.startswith("bare") else f"GET /v1/verify (warm twin), {name}"
        rounds = ", ".join(f"{r['rps']:.0f}" for r in runs[name])
        print(f"{label:<52}{m['rps']:>8.0f}{m['p50']:>8.2f}{m['p99']:>8.2f}{m['cpu_us']:>8.0f}   {rounds}")
    off = median["metrics off"]
    for name in variants:
        if name.startswith("metrics on"):
            slower = 1 - median[name]["rps"] / off["rps"]
            dearer = median[name]["cpu_us"] / off["cpu_us"] - 1
            print(f"{name} vs off: {slower:+.1%} throughput, {dearer:+.1%} CPU per answer (medians; target <= 5 %)")
    if "scan log off (reference)" in median:
        reference = median["scan log off (reference)"]
        for name, what in (("metrics off", "capped"), ("every scan recorded (no cap)", "every scan recorded")):
            cost = 1 - median[name]["rps"] / reference["rps"]
            cpu = median[name]["cpu_us"] / reference["cpu_us"] - 1
            print(f"the scan log, {what}, against none: {cost:+.1%} req/s, {cpu:+.1%} CPU per answer")
    print(f"HTTP metrics per request, measured in-process: {middleware_cost():.1f} us (one process's values)")
    verify = median["metrics on"]
    print(f"throughput ratio verify (metrics on)/bare: {verify['rps'] / median['bare FastAPI JSON']['rps']:.2f}")
    print(f"verify p99 (metrics on): {verify['p99']:.2f} ms")


if __name__ == "__main__":
    main()
