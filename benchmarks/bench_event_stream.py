"""Resuming the event stream from an old id: how long until a partner's next matching event arrives.

A `twinmark serve` embedded stack mints a few real twins for the partner's collection; then the
index is filled with `--events` other chain events (transfers in another brand's collection, written
straight into the index table the way the indexer writes them: minting 100,000 real events would
take minutes and the replay only reads the table). The partner's own events come after all of them.

    .venv/bin/python -m benchmarks.bench_event_stream [--events 100000]

Printed: time to the first matching event for a stream filtered by the partner's collection, by
collection and type, by token, and for the unfiltered stream (whose next event is the very next row),
each resumed from id 0.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time

import httpx

from benchmarks.benchlib import service

NOISE = "0x" + "ab" * 20


def first_event(url: str, params: dict[str, str]) -> tuple[float, dict[str, str]]:
    """Seconds from connecting to the first `id:` of the stream, and that event's fields."""
    started = time.perf_counter()
    fields: dict[str, str] = {}
    with httpx.stream("GET", f"{url}/v1/events/stream", params=params | {"after": "0"}, timeout=120) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(":")
                fields[key] = value.strip()
            elif not line and "data" in fields:
                return time.perf_counter() - started, fields
    raise RuntimeError("stream closed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with service() as svc:
        brand, collection = svc.brand("Bench Stream", "BSTR")
        with httpx.Client(base_url=svc.url, headers=brand, timeout=60) as client:
            twin = {"kind": "physical", "name": "Stream bag", "gtin": "4006381333931", "serial": "S-1"}
            job = client.post("/v1/twins", json=twin).json()
            while (job := client.get(f"/v1/jobs/{job['id']}").json())["state"] != "completed":
                time.sleep(0.1)
            token = job["twins"][0]["token_id"]
        db = sqlite3.connect(svc.data_dir / "twinmark.db", timeout=60)
        # Let the indexer record the partner's mint first, then push it behind the noise: its rows are
        # moved to ids after the noise, as if the partner's events happened after 100,000 others.
        deadline = time.monotonic() + 60
        while not db.execute("SELECT count(*) FROM chain_events WHERE address = ?", (collection,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise SystemExit("the indexer did not record the mint")
            time.sleep(0.2)
        base = db.execute("SELECT max(id) FROM chain_events").fetchone()[0]
        rows = [
            (
                base + 1 + i,
                f"0x{i:064x}",
                f"0x{i + 1:064x}",
                0,
                NOISE,
                "Transfer",
                10_001 + i % 2000,
                json.dumps({"from": "0x" + "11" * 20, "to": "0x" + "22" * 20, "tokenId": 10_001 + i % 2000}),
                1_700_000_000,
                1_000_000 + i,
            )
            for i in range(args.events)
        ]
        started = time.perf_counter()
        with db:
            db.execute("UPDATE chain_events SET id = id + ? WHERE address = ?", (base + args.events + 10, collection))
            db.executemany(
                "INSERT INTO chain_events (id, block_hash, tx_hash, log_index, address, name, token_id, args,"
                " block_time, block_number, built) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                rows,
            )
        print(f"index filled with {args.events} other events in {time.perf_counter() - started:.1f} s")
        total = db.execute("SELECT count(*) FROM chain_events").fetchone()[0]
        cases = [
            ("collection", {"collection": collection}),
            ("collection + type minted", {"collection": collection, "types": "minted"}),
            ("token", {"collection": collection, "token_id": str(token)}),
            ("unfiltered", {}),
        ]
        print(f"{total} indexed events; the partner's first event comes after {args.events} others")
        print(f"{'resume from id 0, filtered by':<34}{'first event after':>20}")
        for name, params in cases:
            seconds, event = first_event(svc.url, params)
            print(f"{name:<34}{seconds * 1000:>17.0f} ms   ({event.get('event')})")
        print("target: < 1 s to the next matching event at 100,000 events")


if __name__ == "__main__":
    main()
