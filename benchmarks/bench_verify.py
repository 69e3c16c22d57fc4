"""Verify throughput and latency at 32 concurrent clients, next to a bare FastAPI endpoint.

Both servers are one uvicorn process each, started the same way; the load comes from `wrk`
(Debian package `wrk`) with 2 threads and 32 connections for 10 s after a 2 s warm-up.

    .venv/bin/python -m benchmarks.bench_verify
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time

import httpx

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


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with service() as svc:
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
        verify = wrk(verify_url)

    port = free_port()
    bare_proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_bare", str(port)], cwd=ROOT)
    try:
        wait_http(f"http://127.0.0.1:{port}/bare")
        bare = wrk(f"http://127.0.0.1:{port}/bare")
    finally:
        bare_proc.terminate()
        bare_proc.wait()

    print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'GET /v1/verify (warm twin)':<28}{verify['rps']:>10.0f}{verify['p50']:>10.2f}{verify['p99']:>10.2f}")
    print(f"{'bare FastAPI JSON':<28}{bare['rps']:>10.0f}{bare['p50']:>10.2f}{bare['p99']:>10.2f}")
    ratio = verify["rps"] / bare["rps"]
    print(f"throughput ratio verify/bare: {ratio:.2f} (target >= 0.5)")
    print(f"verify p99: {verify['p99']:.2f} ms (target < 20)")


if __name__ == "__main__":
    main()
