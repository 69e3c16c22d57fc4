"""Mints that land whatever the node does with them, on a real Anvil: a mint dropped from the pool is
sent again under its own nonce (and writes sent after it are not stuck behind the gap); nothing is
broadcast while the base fee is above the cap; a mint stuck under a base-fee rise is replaced with
higher fees under the same nonce. Every twin is minted exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from web3 import Web3
from web3.exceptions import TransactionNotFound

from registry.chain.anvil import Anvil
from registry.chain.sender import GWEI
from registry.ipfs.cid import CID
from registry.jobs.models import Chunk, ChunkState
from registry.twins.models import Twin
from tests.api.conftest import Stack, physical, running_stack, stack_settings


@contextmanager
def landing_stack(tmp_path: Path, *, with_worker: bool = False, **settings: Any) -> Iterator[Stack]:
    anvil = Anvil()
    anvil.start()
    options: dict[str, Any] = {"indexer_in_process": False, "chunk_size": 10, "tx_stuck_seconds": 2.0}
    with running_stack(stack_settings(tmp_path, anvil, **(options | settings)), anvil, with_worker=with_worker) as s:
        yield s


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    answer = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer.get("result")


def submit(stack: Stack, headers: dict[str, str], prefix: str, count: int) -> str:
    twins = [physical(f"{prefix}-{i:03d}", code="590123412347") for i in range(count)]
    r = stack.client.post("/v1/batches", json={"twins": twins}, headers=headers)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def chunks_of(stack: Stack, job_id: str) -> list[Chunk]:
    with Session(stack.runtime.engine) as s:
        return list(s.exec(select(Chunk).where(Chunk.job_id == job_id).order_by(col(Chunk.id))).all())


def counts(w3: Web3, address: str) -> tuple[int, int]:
    """(pending, mined) nonces of `address` at the node."""
    return w3.eth.get_transaction_count(address, "pending"), w3.eth.get_transaction_count(address)  # type: ignore[arg-type]


def assert_minted_once(stack: Stack, collection: str, job_id: str, twins: int, *, earlier: int = 0) -> None:
    """The job's twins are on chain once each (after `earlier` twins in earlier batches), each batch
    with the directory the registry recorded, and in the registry once each."""
    contract = stack.runtime.chain.collection(collection)
    assert contract.functions.totalMinted().call() == earlier + twins
    chunks = chunks_of(stack, job_id)
    batch_ids = sorted(c.batch_id or 0 for c in chunks)
    assert contract.functions.nextBatchId().call() == batch_ids[-1] + 1
    assert batch_ids == list(range(batch_ids[0], batch_ids[-1] + 1))
    for chunk in chunks:
        header, anchor, _ = contract.functions.batch(chunk.batch_id).call()
        assert header[1] == chunk.size and anchor == CID.parse(chunk.dir_cid or "").digest
    with Session(stack.runtime.engine) as s:
        rows = s.exec(select(Twin).where(Twin.job_id == job_id)).all()
    assert len(rows) == twins and len({(t.collection, t.token_id) for t in rows}) == twins
    for chunk in chunks:
        assert chunk.state == ChunkState.recorded
        assert stack.runtime.w3.eth.get_transaction_receipt(chunk.tx_hash)["status"] == 1  # type: ignore[arg-type]
        assert {t.tx_hash for t in rows if t.batch_id == chunk.batch_id} == {chunk.tx_hash}


def test_a_dropped_mint_is_sent_again_and_later_writes_do_not_wait_behind_it(tmp_path: Path) -> None:
    with landing_stack(tmp_path) as stack:  # the test drives the worker
        rt, w3 = stack.runtime, stack.runtime.w3
        headers, collection = stack.new_brand("Drop House", "DROP")
        job_id = submit(stack, headers, "D", 30)
        rpc(w3, "evm_setAutomine", False)
        rt.worker.lease.hold()
        rt.worker.step()
        sent = chunks_of(stack, job_id)
        assert [c.state for c in sent] == [ChunkState.sent] * 3
        first_nonce = w3.eth.get_transaction(sent[0].tx_hash)["nonce"]  # type: ignore[arg-type]
        assert counts(w3, rt.chain.signer) == (first_nonce + 3, first_nonce)

        rpc(w3, "anvil_dropTransaction", sent[0].tx_hash)  # Anvil drops the two queued behind it as well
        assert counts(w3, rt.chain.signer) == (first_nonce, first_nonce)  # a gap under the sender's next nonce
        rpc(w3, "evm_setIntervalMining", 1)

        # Another brand's write, with the worker idle: it takes the next nonce, and does not wait
        # forever behind the gap (the sender sends the dropped mints again while it waits).
        started = time.monotonic()
        stack.new_brand("Later House", "LATE")
        assert time.monotonic() - started < 15
        rt.worker.drain(timeout=30)
        assert stack.wait_job(headers, job_id)["state"] == "completed"

        assert_minted_once(stack, collection, job_id, 30)
        landed = chunks_of(stack, job_id)
        assert [c.tx_hash for c in landed] == [c.tx_hash for c in sent]  # the very same transactions
        nonces = [w3.eth.get_transaction(c.tx_hash)["nonce"] for c in landed]  # type: ignore[arg-type]
        assert nonces == [first_nonce, first_nonce + 1, first_nonce + 2]
        assert counts(w3, rt.chain.signer) == (first_nonce + 5, first_nonce + 5)  # + brand and collection


def test_nothing_is_broadcast_while_the_base_fee_is_above_the_cap(tmp_path: Path) -> None:
    with landing_stack(tmp_path, with_worker=True, max_fee_gwei=50) as stack:
        rt, w3 = stack.runtime, stack.runtime.w3
        headers, collection = stack.new_brand("Spike House", "SPKE")
        minted = stack.wait_job(headers, submit(stack, headers, "S", 1))
        token = minted["twins"][0]["token_id"]

        rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(80 * GWEI))
        before = counts(w3, rt.chain.signer)
        job_id = submit(stack, headers, "T", 10)
        # A relayed write answers 503 at once instead of paying the spike.
        r = stack.client.post(f"/v1/twins/{collection}/{token}/status", json={"status": "stolen"}, headers=headers)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/fees-above-cap") and "above the cap of 50 gwei" in r.json()["detail"]
        time.sleep(3)  # the worker tries, and waits, a few times
        assert counts(w3, rt.chain.signer) == before  # nothing broadcast
        job = stack.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        assert job["state"] != "completed" and job["counts"]["recorded"] == 0
        assert [c.state for c in chunks_of(stack, job_id)] == [ChunkState.stored]

        rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(GWEI))
        assert stack.wait_job(headers, job_id, timeout=30)["state"] == "completed"
        assert_minted_once(stack, collection, job_id, 10, earlier=1)
        mint = w3.eth.get_transaction(chunks_of(stack, job_id)[0].tx_hash)  # type: ignore[arg-type]
        assert mint["maxFeePerGas"] <= 50 * GWEI
        r = stack.client.post(f"/v1/twins/{collection}/{token}/status", json={"status": "stolen"}, headers=headers)
        assert r.status_code == 200, r.text


def test_a_mint_stuck_under_a_base_fee_rise_is_replaced_with_higher_fees(tmp_path: Path) -> None:
    with landing_stack(tmp_path, max_fee_gwei=100) as stack:  # the test drives the worker
        rt, w3 = stack.runtime, stack.runtime.w3
        headers, collection = stack.new_brand("Stuck House", "STCK")
        job_id = submit(stack, headers, "U", 10)
        rpc(w3, "evm_setAutomine", False)
        rt.worker.lease.hold()
        rt.worker.step()
        [chunk] = chunks_of(stack, job_id)
        assert chunk.state == ChunkState.sent and chunk.tx_hash is not None
        first = chunk.tx_hash
        original = w3.eth.get_transaction(first)  # type: ignore[arg-type]
        # The base fee rises past the mint's offer before a block includes it: it stays pending, unminable.
        rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(original["maxFeePerGas"] * 5))

        started = time.monotonic()
        while chunks_of(stack, job_id)[0].tx_hash == first and time.monotonic() - started < 20:
            rt.worker.step()
            time.sleep(0.05)
        current = chunks_of(stack, job_id)[0]
        assert current.tx_hash != first and current.state == ChunkState.sent, "never replaced"
        assert time.monotonic() - started >= 1.5  # TWINMARK_TX_STUCK_SECONDS (2 s since the broadcast)
        with pytest.raises(TransactionNotFound):
            w3.eth.get_transaction(first)  # type: ignore[arg-type]  # the replacement took its place in the pool

        rpc(w3, "evm_mine")
        rt.worker.drain(timeout=30)
        assert stack.wait_job(headers, job_id)["state"] == "completed"
        assert_minted_once(stack, collection, job_id, 10)
        landed = chunks_of(stack, job_id)[0].tx_hash
        assert landed == current.tx_hash != first
        replacement = w3.eth.get_transaction(landed)  # type: ignore[arg-type]
        assert replacement["nonce"] == original["nonce"]
        assert replacement["maxFeePerGas"] >= original["maxFeePerGas"] * 11 // 10
        assert replacement["maxPriorityFeePerGas"] >= original["maxPriorityFeePerGas"] * 11 // 10
        assert replacement["maxFeePerGas"] <= 100 * GWEI
        with pytest.raises(TransactionNotFound):
            w3.eth.get_transaction_receipt(first)  # type: ignore[arg-type]
