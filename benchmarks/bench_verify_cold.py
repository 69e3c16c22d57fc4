"""Verification as buyers cause it: many *different* twins, each verified once (cold), next to the same
twins verified again at the same chain head (warm), and a lone buyer's latency with and without 60 ms
of RPC latency (the chain-conditions proxy of the test suite in front of Anvil).

    .venv/bin/python -m benchmarks.bench_verify_cold [--twins 10000] [--clients 16]

Rows:
1. cold, N clients: wrk with a Lua script hands every request the next twin of the list (threads
   interleave, nothing wraps: the run fails if any twin would be asked twice), so each answer needs
   the chain and the content of a twin not seen before;
2. warm: the same URLs again, same head (answers may come from cache);
3. one client, cold: sequential requests, each a new twin;
4. one client, cold, RPC behind 60 ms latency per HTTP request.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.benchlib import ROOT, Service, parse_wrk, service
from registry.chain.anvil import Anvil
from tests.support.chain_conditions import ChainConditions, Conditions

GTIN = "4006381333931"
LUA = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  threads = tonumber(args[2])
  args_wrap = args[3] == "wrap"
  paths = {}
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  n = 0
end
function request()
  local index = n * threads + tid + 1
  n = n + 1
  if index > #paths then
    if args_wrap then index = (index - 1) % #paths + 1 else index = #paths + 1 end
  end
  return wrk.format("GET", paths[index] or "/wrapped")
end
"""


def mint(svc: Service, twins: int, headers: dict[str, str]) -> list[tuple[str, int]]:
    """`twins` twins in batches of 2,000, all sharing one image; their (contract, token) pairs."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with httpx.Client(base_url=svc.url, headers=headers, timeout=300) as client:
        image = client.post("/v1/assets", files={"file": ("a.png", png)}).json()["cid"]
        jobs = []
        for start in range(0, twins, 2000):
            body = {
                "twins": [
                    {
                        "kind": "physical",
                        "name": f"Bag {i}",
                        "gtin": "4006381333931",
                        "serial": f"C{i}",
                        "images": [image],
                    }
                    for i in range(start, min(start + 2000, twins))
                ]
            }
            jobs.append(client.post("/v1/batches", json=body).json()["id"])
        found: list[tuple[str, int]] = []
        for job_id in jobs:
            while (job := client.get(f"/v1/jobs/{job_id}", params={"limit": 1}).json())["state"] not in (
                "completed",
                "failed",
            ):
                time.sleep(0.1)
            assert job["state"] == "completed", job
            offset = 0
            while True:
                page = client.get(f"/v1/jobs/{job_id}", params={"limit": 500, "offset": offset}).json()["twins"]
                if not page:
                    break
                found += [(t["contract"], t["token_id"]) for t in page]
                offset += len(page)
        # History comes from the index: let the indexer reach the last mint before measuring.
        contract, token = found[-1]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            p = client.get(f"/v1/twins/{contract}/{token}/provenance").json()
            if p.get("indexed_to_block") is not None and p["indexed_to_block"] >= p["events"][-1]["block_number"]:
                break
            time.sleep(0.2)
    return found


def wrk(base: str, paths: list[str], clients: int, seconds: int, *, wrap: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp) / "cold.lua", Path(tmp) / "paths.txt"
        script.write_text(LUA)
        listing.write_text("\n".join(paths) + "\n")
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{clients}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                base,
                "--",
                str(listing),
                "2",
                "wrap" if wrap else "once",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return parse_wrk(out)


def sequential(base: str, paths: list[str]) -> dict[str, float]:
    times = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for path in paths:
            started = time.perf_counter()
            r = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200 and r.json()["authentic"] is True, r.text
    times.sort()
    return {
        "rps": len(times) / (sum(times) / 1000),
        "p50": statistics.median(times),
        "p99": times[int(len(times) * 0.99) - 1],
    }


def behind_latency(twins: int) -> dict[str, float]:
    """A service whose chain node is reached through 60 ms of latency per HTTP request."""
    with Anvil() as anvil, ChainConditions(anvil.url, path="/v2/bench", seed=1) as proxy:
        proxy.configure(Conditions(latency_s=0.06))
        env = {
            "TWINMARK_CHAIN_RPC_URL": proxy.url,
            # Anvil's first dev key: the node is local, the key is public.
            "TWINMARK_SIGNER_KEY": "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        }
        with service(ROOT, **env) as svc:
            headers, _ = svc.brand("Bench Latency", "BLAT")
            found = mint(svc, twins, headers)
            return sequential(svc.url, [f"/v1/verify/{c}/{t}" for c, t in found])


def row(name: str, m: dict[str, Any]) -> None:
    print(f"{name:<46}{m['rps']:>10.0f}{m['p50']:>10.2f}{m['p99']:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with service() as svc:
        headers, _ = svc.brand("Bench Cold", "BCLD")
        found = mint(svc, args.twins, headers)
        paths = [f"/v1/verify/{c}/{t}" for c, t in found]
        lone, crowd = paths[:200], paths[200:]
        one = sequential(svc.url, lone)
        cold = wrk(svc.url, crowd, args.clients, args.seconds)
        asked = crowd[: int(cold["requests"])]
        warm = wrk(svc.url, asked, args.clients, args.seconds, wrap=True)
    slow = behind_latency(100)
    print(f"{'workload':<46}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    row(f"cold: distinct twins, {args.clients} clients ({int(cold['requests'])} twins)", cold)
    row(f"warm: the same twins again, {args.clients} clients", warm)
    row("cold: one client, distinct twins", one)
    row("cold: one client, RPC +60 ms per request", slow)
    print(
        f"targets: cold {args.clients} clients >= 300/s with p99 < 100 ms; one client p50 < 10 ms; "
        "+60 ms RPC p50 < 200 ms"
    )
    print(
        f"cold {args.clients} clients: {cold['rps']:.0f}/s p99 {cold['p99']:.1f} ms; "
        f"one client p50 {one['p50']:.1f} ms; +60 ms RPC p50 {slow['p50']:.1f} ms"
    )


if __name__ == "__main__":
    main()
