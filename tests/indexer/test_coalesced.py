"""The index over coalesced batches (several jobs' chunks in one on-chain batch): a rebuild from the chain
and IPFS gives each twin its own request's job and keeps it claimable; a reorganisation that orphans the
batch hands every chunk back to the worker, which mints the batch again once, and every job completes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlmodel import Session, select

from registry.chain.anvil import Anvil
from registry.chain.layout import token_id
from registry.indexer.rebuild import rebuild
from registry.twins.models import Twin
from tests.api.conftest import Stack, physical, running_stack, stack_settings

CODE = "400638133392"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(tmp_path, anvil)
    # The test drives the worker (so the requests below wait together) and the indexer.
    with running_stack(settings, anvil, with_worker=False, with_indexer=False) as running:
        yield running


def _submit(stack: Stack, headers: dict[str, str], n: int, prefix: str) -> list[str]:
    jobs = []
    for i in range(n):
        body = physical(f"{prefix}-{i}", code=CODE) | {"claimable": i % 2 == 0}
        r = stack.client.post("/v1/twins", json=body, headers=headers)
        assert r.status_code == 202, r.text
        jobs.append(str(r.json()["id"]))
    return jobs


def _twins(stack: Stack) -> dict[int, tuple[str | None, str | None, str | None]]:
    with Session(stack.runtime.engine) as s:
        return {t.token_id: (t.job_id, t.serial, t.claim_key) for t in s.exec(select(Twin))}


def _rpc(stack: Stack, method: str, *params: Any) -> Any:
    return stack.runtime.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def test_a_rebuild_gives_each_twin_of_a_coalesced_batch_its_own_job(stack: Stack) -> None:
    headers, collection = stack.new_brand("Rebuild Coalesced", "RBCO")
    jobs = _submit(stack, headers, 4, "RC")
    stack.runtime.worker.drain()
    before = _twins(stack)
    assert {t: job for t, (job, _, _) in before.items()} == {token_id(1, i): job for i, job in enumerate(jobs)}
    views = [stack.client.get(f"/v1/jobs/{j}", headers=headers).json() for j in jobs]
    assert {v["batches"][0]["batch_id"] for v in views} == {1}  # one on-chain batch for the four requests

    stack.runtime.indexer.catch_up()
    rebuild(stack.runtime.indexer)
    assert _twins(stack) == before
    assert [stack.client.get(f"/v1/jobs/{j}", headers=headers).json() for j in jobs] == views
    # Claim keys came back from the batch directory: the third request's twin is claimed with its secret.
    (row,) = stack.client.get(f"/v1/jobs/{jobs[2]}/claim-secrets", headers=headers).json()["secrets"]
    assert row["token_id"] == token_id(1, 2)
    buyer = Account.create().address
    r = stack.client.post(
        f"/v1/twins/{collection}/{row['token_id']}/claim", json={"secret": row["secret"], "recipient": buyer}
    )
    assert r.status_code == 200, r.text


def test_a_reorg_that_orphans_a_coalesced_batch_hands_every_chunk_back(stack: Stack) -> None:
    headers, collection = stack.new_brand("Orphan Coalesced", "ORCO")
    fork_point = _rpc(stack, "evm_snapshot")
    jobs = _submit(stack, headers, 3, "OC")
    worker = stack.runtime.worker
    worker.drain()
    stack.runtime.indexer.catch_up()
    before = _twins(stack)
    assert len(before) == 3
    _rpc(stack, "evm_revert", fork_point)  # the mint is gone from the chain
    stack.runtime.chain.sender._nonce = None  # the node forgot the service's transactions
    for _ in range(5):
        _rpc(stack, "evm_mine")
    stack.runtime.indexer.catch_up()  # rewinds, drops the twins, reopens the batch for the worker
    for j in jobs:
        job = stack.client.get(f"/v1/jobs/{j}", headers=headers).json()
        assert job["state"] == "running" and job["counts"]["recorded"] == 0, job
        assert job["batches"][0]["state"] == "stored"
    worker.drain()
    contract = stack.runtime.chain.collection(collection)
    assert contract.functions.totalMinted().call() == 3 and contract.functions.nextBatchId().call() == 2
    for j in jobs:
        job = stack.client.get(f"/v1/jobs/{j}", headers=headers).json()
        assert job["state"] == "completed" and job["counts"]["recorded"] == 1, job
    stack.runtime.indexer.catch_up()
    assert _twins(stack) == before  # the same twins, each with its own job, under the same batch id
