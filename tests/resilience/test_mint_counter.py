"""A mint that cannot happen (its brand compromised) fails with the decoded reason, costs no reverted
transaction, and leaves the collection's batch counter in step with the chain: after the window is
resolved the next mint takes the very next batch id."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from eth_account import Account

from registry.chain.layout import batch_of
from tests.api.conftest import SIGNER_KEY, Stack, fresh_stack, physical


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path_factory.mktemp("counter"), start={"with_worker": False}, indexer_in_process=False
    ) as running:  # the test drives the worker
        yield running


def submit(stack: Stack, headers: dict[str, str], serials: list[str]) -> str:
    twins = [physical(s, code="871234567894") for s in serials]
    r = stack.client.post("/v1/batches", json={"twins": twins}, headers=headers)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_compromise_fails_the_mint_then_resolve_and_the_next_mint_follows(stack: Stack) -> None:
    headers, _ = stack.new_brand("Counter House", "CTR")
    brand_id = stack.client.get("/v1/brands/me", headers=headers).json()["id"]
    worker, w3 = stack.runtime.worker, stack.runtime.w3
    first = submit(stack, headers, ["C-1"])
    worker.drain()
    done = stack.wait_job(headers, first)
    assert done["state"] == "completed"
    first_batch = batch_of(done["twins"][0]["token_id"])

    blocked = submit(stack, headers, ["C-2", "C-3"])
    start = w3.eth.block_number
    r = stack.client.post(
        f"/v1/brands/{brand_id}/compromise", json={"since": int(time.time()) - 1}, headers=stack.operator
    )
    assert r.status_code == 200, r.text
    worker.drain()
    r = stack.client.post(f"/v1/brands/{brand_id}/compromise/resolve", headers=stack.operator)
    assert r.status_code == 200, r.text
    key = stack.client.post(f"/v1/brands/{brand_id}/keys", headers=stack.operator).json()["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    failed = stack.client.get(f"/v1/jobs/{blocked}", headers=headers).json()
    assert failed["state"] == "failed" and failed["error"] == "TwinmarkCollectionBrandCompromised", failed

    after = submit(stack, headers, ["C-4"])
    worker.drain()
    job = stack.client.get(f"/v1/jobs/{after}", headers=headers).json()
    assert job["state"] == "completed", job
    assert batch_of(job["twins"][0]["token_id"]) == first_batch + 1  # the failed mint left no gap

    signer = Account.from_key(SIGNER_KEY).address
    for number in range(start, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == signer:
                assert w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1, f"reverted in block {number}"
