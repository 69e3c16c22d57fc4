"""A service stack whose indexer the tests drive by hand (no background indexer or worker)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from registry.chain.anvil import Anvil
from registry.chain.client import mint_gas
from registry.events.models import ChainEvent
from registry.ipfs.store import add_directory
from registry.runtime import Runtime
from registry.twins.metadata import canonical
from registry.twins.models import Twin
from tests.api.conftest import running_stack, stack_settings


@dataclass
class Indexed:
    runtime: Runtime
    client: TestClient
    anvil: Anvil
    brand: dict[str, str]
    collection: str

    def rpc(self, method: str, *params: Any) -> Any:
        return self.runtime.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]

    def mint_direct(self, names: list[str]) -> int:
        """A batch minted straight on chain (no mint worker): only the indexer will know its twins."""
        chain = self.runtime.chain
        batch_id = chain.next_batch_id(self.collection)
        files = {
            str(batch_id * 10_000 + i + 1): canonical({"name": n, "twinmark": {"kind": "physical"}})
            for i, n in enumerate(names)
        }
        directory = add_directory(self.runtime.store, files)
        fn = chain.mint_fn(
            self.collection, batch_id, chain.sender.address, len(names), 0, directory.cid.digest, b"\0" * 32
        )
        chain.sender.transact(fn, gas=mint_gas(len(names)))
        return batch_id * 10_000 + 1

    def snapshot_index(self) -> dict[str, Any]:
        with Session(self.runtime.engine) as s:
            events = sorted(
                (e.block_number, e.block_hash, e.tx_hash, e.log_index, e.name, e.token_id, e.args)
                for e in s.exec(select(ChainEvent))
            )
            twins = sorted(
                (t.collection, t.token_id, t.owner, t.status, t.claimed, t.burned, t.token_uri, t.metadata_cid, t.name)
                for t in s.exec(select(Twin).order_by(col(Twin.token_id)))
            )
        return {"events": events, "twins": twins}


@pytest.fixture
def indexed(tmp_path: Path) -> Iterator[Indexed]:
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp_path,
        anvil,
        webhook_backoff_seconds=0.05,
        webhook_timeout_seconds=0.5,
        # The receivers these tests run listen on loopback: an operator's explicit opt-in (off by
        # default; tests/webhooks/test_ssrf.py runs with it off and checks what it refuses).
        webhook_allow_private_targets=True,
    )
    with running_stack(settings, anvil, with_worker=True, with_indexer=False) as stack:
        r = stack.client.post("/v1/brands", json={"name": "Index House", "symbol": "IDX"}, headers=stack.operator)
        brand = {"Authorization": f"Bearer {r.json()['api_key']}"}
        yield Indexed(stack.runtime, stack.client, anvil, brand, r.json()["collections"][0]["address"])
