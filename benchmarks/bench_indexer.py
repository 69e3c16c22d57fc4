"""Indexer ingest: events/s from a local Anvil holding at least 100,000 Twinmark events.

The service is built by the composition root (`registry.runtime.Runtime`, as `twinmark serve` builds
it, without its background loops) on a fresh Anvil started here with room for large mints (block gas
limit 60M), its signer Anvil's first dev key. It mints 25 batches of 4,096 twins (102,400 Transfer
events plus the batch and brand events), then times the runtime's indexer (SQLite, empty) catching up
from the deployment block. Content building from IPFS is not part of this figure (the batches carry
synthetic anchors).

    .venv/bin/python -m benchmarks.bench_indexer [--batches 25]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain
from registry.indexer.service import event_count
from registry.runtime import Runtime
from registry.settings import ANVIL_DEV_KEY, Settings

BATCH = 4096


def mint(chain: TwinmarkChain, collection: str, batch_id: int) -> None:
    """One batch of `BATCH` twins into the service's custody, awaited until mined."""
    tx_hash = chain.send_mint(collection, batch_id, BATCH, 0, os.urandom(32), b"\0" * 32)
    while (receipt := chain.tx_state(tx_hash).receipt) is None:
        time.sleep(0.05)
    if receipt["status"] != 1:
        raise chain.revert_reason(tx_hash, receipt)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=25)
    args = parser.parse_args()
    with Anvil(extra_args=("--gas-limit", "60000000")) as node, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), chain_rpc_url=node.url, signer_key=ANVIL_DEV_KEY)  # type: ignore[arg-type]
        runtime = Runtime.start(settings, with_worker=False, with_indexer=False)
        try:
            chain = runtime.chain
            brand = chain.register_brand(chain.signer, "Bench")
            collection = chain.create_collection(brand, "Bench", "BNCH", "", chain.signer)
            started = time.perf_counter()
            for batch in range(1, args.batches + 1):
                mint(chain, collection, batch)
            print(f"minted {args.batches * BATCH} twins in {time.perf_counter() - started:.1f} s")

            started = time.perf_counter()
            ingested = runtime.indexer.catch_up(hydrate=False)
            elapsed = time.perf_counter() - started
            assert ingested == event_count(runtime.engine) >= args.batches * BATCH
            print(f"indexed {ingested} events in {elapsed:.2f} s: {ingested / elapsed:,.0f} events/s (target >= 5,000)")
        finally:
            runtime.stop()


if __name__ == "__main__":
    main()
