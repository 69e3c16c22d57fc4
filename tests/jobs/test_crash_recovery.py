"""The mint pipeline survives a real SIGKILL of the worker process in the middle of a job, and a
mint transaction that was broadcast but never recorded: every twin is minted exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.main import create_app
from registry.chain.anvil import Anvil
from registry.chain.client import mint_gas
from registry.ipfs.cid import CID
from registry.jobs.models import Chunk, ChunkState, Job
from registry.runtime import Runtime
from registry.settings import Settings
from registry.twins.models import Twin
from tests.api.conftest import OPERATOR, SIGNER_KEY, physical

ROOT = Path(__file__).resolve().parents[2]


def states(rt: Runtime) -> Counter[str]:
    with Session(rt.engine) as s:
        return Counter(c.state for c in s.exec(select(Chunk)))


@pytest.fixture
def slow_chain_stack(tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, dict[str, str]]]:
    # One block per second: transactions stay pending long enough to die with the worker.
    anvil = Anvil(extra_args=("--block-time", "1"))
    anvil.start()
    env = {
        "TWINMARK_DATA_DIR": str(tmp_path),
        "TWINMARK_CHAIN_RPC_URL": anvil.url,
        "TWINMARK_SIGNER_KEY": SIGNER_KEY,
        "TWINMARK_OPERATOR_TOKEN": OPERATOR,
        "TWINMARK_DATABASE_URL": f"sqlite:///{tmp_path / 'twinmark.db'}",
        "TWINMARK_CHUNK_SIZE": "20",
        "TWINMARK_WORKER_MAX_IN_FLIGHT": "2",
        "TWINMARK_WORKER_LEASE_SECONDS": "1.5",
    }
    settings = Settings(**{k.removeprefix("TWINMARK_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    rt = Runtime.start(settings, with_worker=False)
    try:
        with TestClient(create_app(runtime=rt)) as client:
            yield rt, client, env
    finally:
        rt.stop()
        anvil.stop()


def spawn_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"],
        cwd=ROOT,
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_in_the_middle_of_a_job(slow_chain_stack: tuple[Runtime, TestClient, dict[str, str]]) -> None:
    rt, client, env = slow_chain_stack
    r = client.post(
        "/v1/brands", json={"name": "Crash House", "symbol": "CRSH"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    )
    brand = {"Authorization": f"Bearer {r.json()['api_key']}"}
    collection = r.json()["collections"][0]["address"]
    serials = [f"K-{i:03d}" for i in range(200)]
    r = client.post("/v1/batches", json={"twins": [physical(s, code="590123412345") for s in serials]}, headers=brand)
    job_id = r.json()["id"]

    worker = spawn_worker(env)
    seen: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = states(rt)
            # Some batches recorded, one in flight, others not started: the middle of the job.
            if seen[ChunkState.recorded] >= 1 and seen[ChunkState.sent] >= 1 and seen[ChunkState.validated] >= 1:
                break
            time.sleep(0.01)
        else:
            pytest.fail(f"never reached the middle of the job: {seen}")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL

    restarted = spawn_worker(env)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job_id}", headers=brand, params={"limit": 1}).json()
            if job["state"] in ("completed", "failed"):
                break
            time.sleep(0.1)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=20)
    assert job["state"] == "completed", job

    # On chain: ten batches of 20, each minted once with the directory the registry recorded.
    contract = rt.chain.collection(collection)
    assert contract.functions.totalMinted().call() == 200
    assert contract.functions.nextBatchId().call() == 11
    with Session(rt.engine) as s:
        chunks = s.exec(select(Chunk).where(Chunk.job_id == job_id)).all()
        twins = s.exec(select(Twin).where(Twin.job_id == job_id)).all()
        assert s.get(Job, job_id).recorded == 200  # type: ignore[union-attr]
    assert sorted(c.batch_id for c in chunks) == list(range(1, 11))  # type: ignore[type-var]
    for c in chunks:
        header, anchor, _ = contract.functions.batch(c.batch_id).call()
        assert header[1] == 20 and anchor == CID.parse(c.dir_cid or "").digest
    # In the registry: every requested twin exactly once.
    assert len(twins) == 200
    assert sorted(t.serial for t in twins) == serials  # type: ignore[type-var]
    assert len({(t.collection, t.token_id) for t in twins}) == 200
    assert {t.token_id for t in twins} == {b * 10_000 + i for b in range(1, 11) for i in range(1, 21)}


def test_broadcast_but_unrecorded_mint_is_not_repeated(tmp_path: Path) -> None:
    """The crash window between broadcasting a mint and recording it, replayed deterministically."""
    anvil = Anvil()
    anvil.start()
    settings = Settings(
        data_dir=tmp_path,
        chain_rpc_url=anvil.url,
        signer_key=SIGNER_KEY,  # type: ignore[arg-type]
        operator_token=OPERATOR,  # type: ignore[arg-type]
        chunk_size=10,
    )
    rt = Runtime.start(settings, with_worker=False)
    try:
        with TestClient(create_app(runtime=rt)) as client:
            r = client.post(
                "/v1/brands", json={"name": "Window", "symbol": "WIN"}, headers={"Authorization": f"Bearer {OPERATOR}"}
            )
            brand = {"Authorization": f"Bearer {r.json()['api_key']}"}
            collection = r.json()["collections"][0]["address"]
            client.post(
                "/v1/batches",
                json={"twins": [physical(f"W-{i}", code="590123412346") for i in range(25)]},
                headers=brand,
            )
            worker = rt.worker
            worker.lease.hold()
            with Session(rt.engine) as s:
                first = s.exec(select(Chunk).order_by(Chunk.id)).first()  # type: ignore[arg-type]
            assert first is not None and first.id is not None
            worker._store(first.id)
            with Session(rt.engine) as s:
                stored = s.get(Chunk, first.id)
            assert stored is not None and stored.state == ChunkState.stored and stored.batch_id == 1
            # The "lost" broadcast: the mint reaches the chain, the registry never hears of it.
            fn = rt.chain.mint_fn(
                collection,
                1,
                rt.chain.sender.address,
                stored.size,
                0,
                CID.parse(stored.dir_cid or "").digest,
                b"\0" * 32,
            )
            lost_tx = rt.chain.sender.transact(fn, gas=mint_gas(stored.size))
            worker.drain()
            contract = rt.chain.collection(collection)
            assert contract.functions.totalMinted().call() == 25
            assert contract.functions.nextBatchId().call() == 4
            with Session(rt.engine) as s:
                again = s.get(Chunk, first.id)
                assert again is not None and again.state == ChunkState.recorded
                assert again.tx_hash == "0x" + bytes(lost_tx["transactionHash"]).hex()  # the original mint
                assert len(s.exec(select(Twin)).all()) == 25
    finally:
        rt.stop()
        anvil.stop()
