"""Indexer ingest: events/s from a local Anvil holding at least 100,000 Twinmark events.

Mints 25 batches of 4,096 twins (102,400 Transfer events plus the batch and brand events) on a
fresh Anvil, then times a fresh indexer (SQLite) catching up from block 0. Content building from
IPFS is not part of this figure (the batches carry synthetic anchors).

    .venv/bin/python scripts/bench_indexer.py [--batches 25]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from eth_account import Account
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.chain import artifacts
from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain, mint_gas
from registry.chain.deploy import deploy
from registry.chain.reverts import RevertDecoder
from registry.chain.sender import TxSender
from registry.db.engine import make_engine, migrate
from registry.indexer.service import Indexer, event_count
from registry.ipfs.store import LocalBlockStore
from registry.settings import ANVIL_DEV_KEY, Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=25)
    args = parser.parse_args()
    with Anvil(extra_args=("--gas-limit", "60000000")) as node, tempfile.TemporaryDirectory() as tmp:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 300}))
        decoder = RevertDecoder(artifacts.load(n).abi for n in ("TwinmarkRegistry", "TwinmarkCollection"))
        sender = TxSender(w3, Account.from_key(ANVIL_DEV_KEY), decoder)
        chain = TwinmarkChain(w3, sender, deploy(w3, sender)["registry"])
        brand = chain.register_brand(sender.address, "Bench")
        collection = chain.create_collection(brand, "Bench", "BNCH", "", sender.address)
        started = time.perf_counter()
        for batch in range(1, args.batches + 1):
            fn = chain.mint_fn(collection, batch, sender.address, 4096, 0, os.urandom(32), b"\0" * 32)
            sender.transact(fn, gas=mint_gas(4096))
        print(f"minted {args.batches * 4096} twins in {time.perf_counter() - started:.1f} s")

        engine = make_engine(f"sqlite:///{tmp}/index.db")
        migrate(engine)
        settings = Settings(data_dir=Path(tmp), chain_rpc_url=node.url)
        indexer = Indexer(engine, chain, LocalBlockStore(Path(tmp) / "blocks"), settings)
        started = time.perf_counter()
        ingested = indexer.catch_up(hydrate=False)
        elapsed = time.perf_counter() - started
        assert ingested == event_count(engine) >= 100_000
        print(f"indexed {ingested} events in {elapsed:.2f} s: {ingested / elapsed:,.0f} events/s (target >= 5,000)")


if __name__ == "__main__":
    main()
