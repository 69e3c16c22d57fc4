"""A service stack whose indexer the tests drive by hand (no background indexer or worker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.main import create_app
from registry.chain.anvil import Anvil
from registry.chain.client import mint_gas
from registry.indexer.models import ChainEvent
from registry.ipfs.store import add_directory
from registry.runtime import Runtime
from registry.settings import Settings
from registry.twins.metadata import canonical
from registry.twins.models import Twin
from tests.api.conftest import OPERATOR, SIGNER_KEY


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


def names_of(index: dict[str, Any]) -> list[str]:
    return [json.loads(e[6]).get("name", e[4]) for e in index["events"]]


@pytest.fixture
def indexed(tmp_path: Path) -> Iterator[Indexed]:
    anvil = Anvil()
    anvil.start()
    settings = Settings(
        data_dir=tmp_path,
        chain_rpc_url=anvil.url,
        signer_key=SIGNER_KEY,  # type: ignore[arg-type]
        operator_token=OPERATOR,  # type: ignore[arg-type]
        worker_poll_seconds=0.02,
        webhook_backoff_seconds=0.05,
        webhook_timeout_seconds=0.5,
    )
    runtime = Runtime.start(settings, with_worker=True, with_indexer=False)
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            r = client.post(
                "/v1/brands",
                json={"name": "Index House", "symbol": "IDX"},
                headers={"Authorization": f"Bearer {OPERATOR}"},
            )
            yield Indexed(
                runtime,
                client,
                anvil,
                {"Authorization": f"Bearer {r.json()['api_key']}"},
                r.json()["collections"][0]["address"],
            )
    finally:
        runtime.stop()
        anvil.stop()
