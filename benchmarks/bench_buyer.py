"""The buyer's door under load, as buyers cause it: many *different* twins, each reached once.

    .venv/bin/python -m benchmarks.bench_buyer [--twins 5000] [--clients 16] [--seconds 8]
        [--no-record] [--baseline DIR]

Scan recording is on, as the service runs by default (`--no-record`: TWINMARK_SCANS_ENABLED=false).
`--baseline DIR`: the same rows first against the service of another checkout (say main's, exported
with `git archive`, its `artifacts/` linked in), for a before/after in one run on this shared machine.

Rows (wrk; requests take the twins in turn, starting over only when a row outlasts its list, which
the gateway row does: one batch directory holds 2,000 twins; no targets in issue 13):
1. the GS1 Digital Link on the label (`/01/{gtin}/21/{serial}`, a browser's Accept): the resolver's 307;
2. the verification page (`/t/{contract}/{token}`, HTML): a cold verification, the provenance and the
   template, for a twin not seen before;
3. the content gateway: each twin's metadata block by path (`/ipfs/{dir}/{token}?format=raw`), as the
   page's in-browser re-check fetches it;
4. the page again for the twins row 2 reached (warm: each paged once at this head; the twins row 2
   did not reach within its seconds are paged once before the row, so none of them is cold).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import httpx

from benchmarks.bench_verify_cold import mint
from benchmarks.benchlib import ROOT, parse_wrk, service
from registry.chain.layout import batch_of

LUA = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  threads = tonumber(args[2])
  paths = {}
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  n = 0
end
function request()
  local index = n * threads + tid + 1
  n = n + 1
  if index > #paths then index = (index - 1) % #paths + 1 end
  return wrk.format("GET", paths[index], {["Accept"] = "text/html,application/xhtml+xml"})
end
"""


def wrk(base: str, paths: list[str], clients: int, seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp) / "buyers.lua", Path(tmp) / "paths.txt"
        script.write_text(LUA)
        listing.write_text("\n".join(paths) + "\n")
        command = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script), base]
        out = subprocess.run([*command, "--", str(listing), "2"], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def rows(root: Path, args: argparse.Namespace) -> None:
    env = {"TWINMARK_SCANS_ENABLED": "false"} if args.no_record else {}
    with service(root, **env) as svc:
        headers, _ = svc.brand("Bench Buyer", "BUYR")
        twins = mint(svc, args.twins, headers)
        with httpx.Client(base_url=svc.url, timeout=60) as client:
            first = client.get(f"/v1/twins/{twins[0][0]}/{twins[0][1]}").json()
        directory, gtin = first["directory_cid"], first["gtin"]
        batch = [t for t in twins if batch_of(t[1]) == batch_of(twins[0][1])]  # one batch: one directory
        unseen = twins[len(batch) :]  # never verified, never paged: cold for the page rows
        pages = [f"/t/{c}/{t}" for c, t in unseen]
        print(f"{root}: {len(twins)} twins minted; {args.clients} clients, {args.seconds} s per row")

        def row(name: str, paths: list[str]) -> dict[str, float]:
            r = wrk(svc.url, paths, args.clients, args.seconds)
            figures = f"{r['rps']:8.0f} req/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms"
            print(f"{name:32} {figures}   ({r['requests']:.0f} requests, {len(paths)} paths)", flush=True)
            return r

        # The benchmark's twins have serials C0..C{n-1} (bench_verify_cold.mint).
        row("GS1 Digital Link -> 307", [f"/01/{gtin}/21/C{i}" for i in range(len(twins))])
        warm = pages[: int(row("page, cold (distinct twins)", pages)["requests"])]
        row("gateway raw block by path", [f"/ipfs/{directory}/{t}?format=raw" for _, t in batch])
        # wrk's two threads take alternate twins, each at its own pace: the last few of the cold row's
        # share one thread may not have reached are paged once here, so no twin of the warm row is cold.
        with httpx.Client(base_url=svc.url, timeout=60, headers={"Accept": "text/html"}) as client:
            for path in warm[int(len(warm) * 0.9) :]:
                client.get(path).raise_for_status()
        row("page, warm (same twins)", warm)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twins", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--no-record", action="store_true", help="scan recording off")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured first in the same run")
    args = parser.parse_args()
    if args.twins <= 2000:  # the page rows take the twins beyond the first batch (mint() sends 2,000 a batch)
        parser.error("--twins must be more than 2,000: the page rows use the twins beyond the first batch")
    for root in ([args.baseline] if args.baseline else []) + [ROOT]:
        rows(root.resolve(), args)


if __name__ == "__main__":
    main()
