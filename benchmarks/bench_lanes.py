"""Single-twin mints on a chain with real block times: N POST /v1/twins requests (one twin each) from C
clients spread over B brands, with Anvil mining a block every 2 s (interval mining), once with the
signer alone and once with the signer and 3 more signer lanes, in the same run. Timed from the first
request until every twin is recorded; then, from the chain: mint transactions, the most in one block,
and how many signers sent them.

    .venv/bin/python -m benchmarks.bench_lanes [--twins 1000] [--clients 32] [--brands 4] [--block-time 2]

Embedded stack (`twinmark serve`, local block store, SQLite), default coalescing. A collection's mints
stay on one lane while one is in flight (batch-id order), so lanes spread work across collections:
the load has one brand per lane.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from typing import Any

import httpx

from benchmarks.bench_mint_single import Api, Jobs, twin
from benchmarks.benchlib import ROOT, free_port, service
from registry.chain.logs import collection_topic

# Anvil dev accounts #1-#3 (the embedded signer is #0).
LANE_KEYS = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
]


def rpc(url: str, method: str, *params: Any) -> Any:
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=60)
    return r.json()["result"]


def run(lanes: int, args: argparse.Namespace) -> dict[str, Any]:
    anvil_port = free_port()
    rpc_url = f"http://127.0.0.1:{anvil_port}"
    env = {"TWINMARK_ANVIL_PORT": str(anvil_port), "TWINMARK_SIGNER_LANE_KEYS": json.dumps(LANE_KEYS[: lanes - 1])}
    with service(ROOT, **env) as svc:
        brands = [svc.brand(f"Lanes {n}", f"LN{n}") for n in range(args.brands)]
        rpc(rpc_url, "evm_setAutomine", False)
        rpc(rpc_url, "evm_setIntervalMining", args.block_time)
        start_block = int(rpc(rpc_url, "eth_blockNumber"), 16)
        jobs = Jobs(svc.data_dir / "twinmark.db")
        job_ids: list[str] = []
        cursor = iter(range(args.twins))
        lock = threading.Lock()

        def client(n: int) -> None:
            api = Api(svc.url, brands[n % len(brands)][0])
            try:
                while (i := next(cursor, None)) is not None:
                    status, job = api.call("POST", "/v1/twins", twin(f"L{lanes}-{i:08d}"))
                    assert status == 202, job
                    with lock:
                        job_ids.append(job["id"])
            finally:
                api.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        jobs.wait_completed(job_ids)
        elapsed = time.perf_counter() - started
        per_block: Counter[int] = Counter()
        senders: dict[int, set[str]] = {}
        topics = [collection_topic("BatchMinted")]
        for _, address in brands:
            query = {"address": address, "fromBlock": hex(start_block + 1), "toBlock": "latest", "topics": topics}
            for log in rpc(rpc_url, "eth_getLogs", query):
                block = int(log["blockNumber"], 16)
                per_block[block] += 1
                sender = rpc(rpc_url, "eth_getTransactionByHash", log["transactionHash"])["from"]
                senders.setdefault(block, set()).add(sender)
    busiest = max(per_block, key=lambda b: (per_block[b], len(senders[b])))
    return {
        "lanes": lanes,
        "seconds": elapsed,
        "twins_per_s": args.twins / elapsed,
        "mints": sum(per_block.values()),
        "blocks": len(per_block),
        "most_in_block": per_block[busiest],
        "signers_in_that_block": len(senders[busiest]),
        "blocks_with_4_plus": sum(1 for n in per_block.values() if n >= 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twins", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--brands", type=int, default=4)
    parser.add_argument("--block-time", type=int, default=2)
    args = parser.parse_args()
    print(
        f"{args.twins} single-twin requests from {args.clients} clients over {args.brands} brands, "
        f"a block every {args.block_time} s:"
    )
    for lanes in (1, 4):
        r = run(lanes, args)
        print(
            f"  {r['lanes']} lane(s): all recorded after {r['seconds']:.2f} s = {r['twins_per_s']:.0f} twins/s "
            f"(target >= 300); {r['mints']} mint transactions in {r['blocks']} blocks; most in one block: "
            f"{r['most_in_block']} from {r['signers_in_that_block']} signer(s) (target >= 4); "
            f"blocks with >= 4 mints: {r['blocks_with_4_plus']}"
        )


if __name__ == "__main__":
    main()
