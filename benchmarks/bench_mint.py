"""Mint throughput: 10,000 physical twins submitted through the HTTP API as batches, timed from the
first request until every twin is confirmed on chain and recorded in the registry; once for each
layout of the local block store (a file per block, then blocks as rows of one SQLite database), in
the same run, then block writes alone in each layout (batches of metadata files the size of a twin's).

Embedded stack (local Anvil with automine, local block store, SQLite), one `twinmark serve` process.

    .venv/bin/python -m benchmarks.bench_mint [--twins 10000] [--per-request 2000] [--layouts files,sqlite]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import httpx

from benchmarks.benchlib import BENCH_DATA, service
from registry.ipfs.blockstore import FileBlockStore, LocalBlockStore
from registry.ipfs.store import ContentStore
from registry.ipfs.unixfs import import_directory


def twin(i: int) -> dict[str, object]:
    return {
        "kind": "physical",
        "name": f"Bench twin {i}",
        "description": "Benchmark twin",
        "gtin": "4006381333931",
        "serial": f"BM{i:08d}",
        "materials": [{"name": "Calfskin", "percent": 100}],
        "origin_country": "FR",
    }


def mint(layout: str, twins: int, per_request: int) -> tuple[int, float, float]:
    """Twins recorded, seconds until accepted, seconds until all recorded."""
    with service(TWINMARK_BLOCK_STORE_LAYOUT=layout) as svc:
        brand, _ = svc.brand("Bench Mint", "BMNT")
        requests = [
            {"twins": [twin(i) for i in range(start, min(start + per_request, twins))]}
            for start in range(0, twins, per_request)
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
            last = client.get(f"/v1/jobs/{jobs[-1]}", params={"limit": 1, "offset": per_request - 1}).json()
            t = last["twins"][-1]
            assert client.get(f"/v1/twins/{t['contract']}/{t['token_id']}").json()["on_chain"]["exists"]
    return recorded, accepted, elapsed


def block_writes(layout: str, batches: int, per_batch: int) -> tuple[int, float]:
    """Blocks written and seconds: `batches` directories of `per_batch` twin-sized JSON files."""
    imports = [
        import_directory({str(i): json.dumps(twin(b * per_batch + i)).encode() for i in range(per_batch)})
        for b in range(batches)
    ]
    BENCH_DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="twinmark-blocks-", dir=BENCH_DATA) as tmp:
        store: ContentStore = (
            FileBlockStore(BENCH_DATA / tmp) if layout == "files" else LocalBlockStore(BENCH_DATA / tmp)
        )
        started = time.perf_counter()
        for imported in imports:
            store.put(imported)
        return sum(len(i.blocks) for i in imports), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--per-request", type=int, default=2_000)
    parser.add_argument("--layouts", default="files,sqlite", help="block store layouts, in order")
    args = parser.parse_args()
    layouts = args.layouts.split(",")
    minted = {layout: mint(layout, args.twins, args.per_request) for layout in layouts}
    written = {layout: block_writes(layout, args.twins // args.per_request, args.per_request) for layout in layouts}
    for layout in layouts:
        recorded, accepted, elapsed = minted[layout]
        blocks, seconds = written[layout]
        print(f"block store layout {layout!r}:")
        print(
            f"  {recorded} twins in {-(-args.twins // args.per_request)} requests: accepted in {accepted:.2f} s, "
            f"all recorded after {elapsed:.2f} s: {recorded / elapsed:.0f} twins/s (target >= 3,000)"
        )
        print(f"  block writes alone: {blocks} blocks in {seconds:.2f} s: {blocks / seconds:.0f} blocks/s")
        assert recorded == args.twins
    if len(layouts) == 2:
        a, b = layouts
        twins_ratio, writes_ratio = minted[a][2] / minted[b][2], written[a][1] / written[b][1]
        print(f"{b} / {a}: twins/s x{twins_ratio:.2f}, block writes/s x{writes_ratio:.2f}")


if __name__ == "__main__":
    main()
