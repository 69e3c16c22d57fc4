"""Coalesced minting: single-twin and small requests of one collection and kind that arrive together are
minted as one batch transaction, while each request keeps its own job, twins, idempotency and claim
secrets; a lone request goes alone after the window, full chunks never wait, and a worker killed in
the middle of a coalesced batch leaves every twin minted exactly once. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.main import create_app
from registry.chain.anvil import Anvil
from registry.chain.client import mint_gas
from registry.chain.layout import batch_of, token_id
from registry.ipfs.cid import CID
from registry.ipfs.store import cat
from registry.ipfs.unixfs import decode_node
from registry.jobs.coalescing import Waiting, coalesce
from registry.jobs.models import Chunk, ChunkState
from registry.runtime import Runtime
from registry.settings import Settings
from registry.twins.models import Twin
from tests.api.conftest import (
    OPERATOR,
    SIGNER_KEY,
    Stack,
    _database_url,
    fresh_stack,
    physical,
    postgres_server,  # noqa: F401 - the session's PostgreSQL, for the parametrised fixtures
    running_stack,
    stack_settings,
)
from tests.support.server import serve

ROOT = Path(__file__).resolve().parents[2]
CODE = "590123412340"


# ---------------------------------------------------------------- the grouping rule alone


def _waiting(i: int, size: int = 1, *, age: float = 0.0, collection: str = "0xA", kind: int = 0) -> Waiting:
    since = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(seconds=age)
    return Waiting(id=i, collection=collection, kind=kind, size=size, state=ChunkState.validated, since=since)


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_small_chunks_wait_for_the_window_counted_from_the_oldest() -> None:
    due, next_due, filling = coalesce([_waiting(1, age=0.1), _waiting(2, age=0.05)], NOW, 0.25, 500)
    assert due == [] and next_due == pytest.approx(0.15) and filling == 2
    due, next_due, filling = coalesce([_waiting(1, age=0.3), _waiting(2, age=0.0)], NOW, 0.25, 500)
    assert due == [[1, 2]] and next_due is None and filling == 0


def test_batches_are_capped_and_full_ones_go_at_once() -> None:
    waiting = [_waiting(i, size=4) for i in range(1, 6)]  # 20 twins, cap 10: 4+4 (next does not fit), 4+4, 4
    due, next_due, filling = coalesce(waiting, NOW, 0.25, 10)
    assert due == [[1, 2], [3, 4]] and next_due == pytest.approx(0.25) and filling == 4
    big = [_waiting(1), _waiting(2, size=10), _waiting(3)]  # a full chunk never waits, nor joins a group
    due, next_due, filling = coalesce(big, NOW, 0.25, 10)
    assert due == [[2]] and next_due == pytest.approx(0.25) and filling == 2
    stored = Waiting(id=7, collection="0xA", kind=0, size=1, state=ChunkState.stored, since=NOW)
    assert coalesce([stored], NOW, 0.25, 10) == ([[7]], None, 0)  # its batch already formed


def test_one_batch_per_collection_and_kind() -> None:
    waiting = [_waiting(1, age=1), _waiting(2, age=1, kind=1), _waiting(3, age=1, collection="0xB"), _waiting(4)]
    due, _, _ = coalesce(waiting, NOW, 0.25, 500)
    assert due == [[1, 4], [2], [3]]


# ---------------------------------------------------------------- a running service


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"coalesce-{request.param}")
    anvil = Anvil()
    anvil.start()
    # A window wide enough that requests posted together by the test land in it on a loaded machine.
    settings = stack_settings(tmp, anvil, database_url=_database_url(request, tmp), coalesce_window_seconds=1.0)
    with running_stack(settings, anvil) as running:
        yield running


def _tx_of(stack: Stack, collection: str, batch_id: int) -> tuple[int, str]:
    """The size and tx hash of a batch, from the chain."""
    contract = stack.runtime.chain.collection(collection)
    header, _, _ = contract.functions.batch(batch_id).call()
    tx_hash, _ = stack.runtime.chain.batch_minted_log(collection, batch_id) or ("", 0)
    return int(header[1]), tx_hash


def _published_serial(stack: Stack, token_uri: str) -> str:
    """The serial in the metadata file a token URI names, read from the content store."""
    directory, name = token_uri.removeprefix("ipfs://").split("/")
    node = decode_node(stack.runtime.store.get_block(CID.parse(directory)))
    (link,) = [link for link in node.links if link.name == name]
    return str(json.loads(cat(stack.runtime.store, link.cid))["twinmark"]["passport"]["serial"])


def test_concurrent_single_requests_share_transactions(stack: Stack) -> None:
    headers, collection = stack.new_brand("Coalesce House", "COAL")
    n = 24
    serials = [f"CO-{i:03d}" for i in range(n)]
    job_ids: dict[str, str] = {}
    errors: list[str] = []
    with serve(create_app(runtime=stack.runtime)) as url:

        def post(part: list[str]) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                for serial in part:
                    # Every third twin claimable: claim keys of several jobs share one batch's tree.
                    body = physical(serial, code=CODE) | {"claimable": int(serial[-3:]) % 3 == 0}
                    r = client.post("/v1/twins", json=body)
                    if r.status_code != 202:
                        errors.append(r.text)
                    else:
                        job_ids[serial] = r.json()["id"]

        threads = [threading.Thread(target=post, args=(serials[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors and len(job_ids) == n
    jobs = {serial: stack.wait_job(headers, job_id) for serial, job_id in job_ids.items()}

    # Each job completed with its own twin.
    for serial, job in jobs.items():
        assert job["state"] == "completed" and job["counts"] == {"requested": 1, "recorded": 1}, job
        assert [t["serial"] for t in job["twins"]] == [serial]
        (batch,) = job["batches"]
        assert job["twins"][0]["token_id"] == token_id(batch["batch_id"], batch["offset"])
        assert job["twins"][0]["tx_hash"] == batch["tx_hash"]
    # Far fewer transactions than requests, each twin on chain exactly once.
    batches = {job["batches"][0]["batch_id"] for job in jobs.values()}
    txs = {job["twins"][0]["tx_hash"] for job in jobs.values()}
    assert len(txs) == len(batches) <= n // 4, (len(txs), n)
    contract = stack.runtime.chain.collection(collection)
    assert contract.functions.totalMinted().call() == n
    assert contract.functions.nextBatchId().call() == len(batches) + 1
    assert sum(_tx_of(stack, collection, b)[0] for b in batches) == n
    tokens = [job["twins"][0]["token_id"] for job in jobs.values()]
    assert len(set(tokens)) == n
    for serial, job in jobs.items():
        twin = job["twins"][0]
        assert contract.functions.tokenURI(twin["token_id"]).call() == twin["token_uri"]
        assert _published_serial(stack, twin["token_uri"]) == serial  # the directory file at its token id

    # A claimable twin of a batch shared by several jobs is claimed with its own job's secret.
    shared = Counter(job["batches"][0]["batch_id"] for job in jobs.values())
    claimable = [s for s in serials if int(s[-3:]) % 3 == 0]
    serial = max(claimable, key=lambda s: shared[jobs[s]["batches"][0]["batch_id"]])
    assert shared[jobs[serial]["batches"][0]["batch_id"]] > 1
    r = stack.client.get(f"/v1/jobs/{job_ids[serial]}/claim-secrets", headers=headers)
    assert r.status_code == 200, r.text
    (row,) = r.json()["secrets"]
    assert row["token_id"] == jobs[serial]["twins"][0]["token_id"]
    buyer = Account.create().address
    r = stack.client.post(
        f"/v1/twins/{collection}/{row['token_id']}/claim", json={"secret": row["secret"], "recipient": buyer}
    )
    assert r.status_code == 200, r.text
    assert contract.functions.ownerOf(row["token_id"]).call() == buyer


def test_a_lone_request_is_minted_alone(stack: Stack) -> None:
    headers, collection = stack.new_brand("Lone House", "LONE")
    r = stack.client.post("/v1/twins", json=physical("LONE-1", code=CODE), headers=headers)
    assert r.status_code == 202, r.text
    job = stack.wait_job(headers, r.json()["id"])
    assert job["state"] == "completed"
    (batch,) = job["batches"]
    assert batch["offset"] == 0 and _tx_of(stack, collection, batch["batch_id"])[0] == 1


def test_a_replayed_idempotency_key_gives_the_same_job_while_it_waits(stack: Stack) -> None:
    headers, collection = stack.new_brand("Replay House", "RPLY")
    body = physical("RP-1", code=CODE)
    key = {"Idempotency-Key": "coalesce-replay-1"}
    first = stack.client.post("/v1/twins", json=body, headers=headers | key)
    assert first.status_code == 202, first.text
    again = stack.client.post("/v1/twins", json=body, headers=headers | key)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["state"] == "accepted"  # still waiting for company (the window is 1 s here)
    other = stack.client.post("/v1/twins", json=physical("RP-2", code=CODE), headers=headers | key)
    assert other.status_code == 409, other.text
    job = stack.wait_job(headers, first.json()["id"])
    assert job["state"] == "completed"
    late = stack.client.post("/v1/twins", json=body, headers=headers | key)
    assert late.json()["id"] == job["id"] and late.headers["Idempotent-Replayed"] == "true"
    assert stack.runtime.chain.collection(collection).functions.totalMinted().call() == 1


# ---------------------------------------------------------------- the worker driven by hand


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path, start={"with_worker": False}, indexer_in_process=False, coalesce_max_twins=5
    ) as running:  # the test drives the worker
        yield running


def test_full_chunks_do_not_wait_for_the_window(manual: Stack) -> None:
    headers, _ = manual.new_brand("Full House", "FULL")
    worker = manual.runtime.worker
    worker.settings.coalesce_window_seconds = 3600.0  # the single below would wait an hour
    single = manual.client.post("/v1/twins", json=physical("F-0", code=CODE), headers=headers).json()["id"]
    full = [physical(f"F-{i}", code=CODE) for i in range(1, 6)]  # 5 twins: the cap here
    batch = manual.client.post("/v1/batches", json={"twins": full}, headers=headers).json()["id"]
    for _ in range(5):
        worker.lease.hold()
        worker.step()
    assert manual.client.get(f"/v1/jobs/{batch}", headers=headers).json()["state"] == "completed"
    assert manual.client.get(f"/v1/jobs/{single}", headers=headers).json()["state"] == "accepted"
    worker.settings.coalesce_window_seconds = 0.0
    worker.drain()
    job = manual.client.get(f"/v1/jobs/{single}", headers=headers).json()
    assert job["state"] == "completed" and job["batches"][0]["batch_id"] == 2


def test_a_coalesced_mint_broadcast_but_unrecorded_is_not_repeated(manual: Stack) -> None:
    """The crash window between broadcasting a coalesced mint and recording it, replayed deterministically:
    the chain holds the whole batch; the worker recognises it by directory and total size."""
    headers, collection = manual.new_brand("Window House", "WNDW")
    worker, chain = manual.runtime.worker, manual.runtime.chain
    jobs = [
        manual.client.post("/v1/twins", json=physical(f"W-{i}", code=CODE) | {"claimable": True}, headers=headers)
        for i in range(3)
    ]
    with Session(manual.runtime.engine) as s:
        ids = [c.id for c in s.exec(select(Chunk).order_by(col(Chunk.id)))]
    assert len(ids) == 3 and all(i is not None for i in ids)
    worker.lease.hold()
    worker._store(ids[0], ids[1:])  # type: ignore[arg-type]
    with Session(manual.runtime.engine) as s:
        members = s.exec(select(Chunk).order_by(col(Chunk.id))).all()
    leader = members[0]
    assert [m.batch_offset for m in members] == [0, 1, 2]
    assert [m.leader_id for m in members] == [None, leader.id, leader.id]
    assert {(m.state, m.batch_id, m.dir_cid) for m in members} == {(ChunkState.stored, 1, leader.dir_cid)}
    # The "lost" broadcast: the whole batch reaches the chain, the registry never hears of it.
    root = bytes.fromhex(leader.claim_root or "")
    fn = chain.mint_fn(collection, 1, chain.sender.address, 3, 0, CID.parse(leader.dir_cid or "").digest, root)
    lost = chain.sender.transact(fn, gas=mint_gas(3))
    worker.drain()
    contract = chain.collection(collection)
    assert contract.functions.totalMinted().call() == 3 and contract.functions.nextBatchId().call() == 2
    for i, r in enumerate(jobs):
        job = manual.client.get(f"/v1/jobs/{r.json()['id']}", headers=headers).json()
        assert job["state"] == "completed", job
        (twin,) = job["twins"]
        assert twin["serial"] == f"W-{i}" and twin["token_id"] == token_id(1, i)
        assert twin["tx_hash"] == "0x" + bytes(lost["transactionHash"]).hex()  # the original mint
    # Each job's secret claims its own twin, with a proof over the whole batch's leaves.
    last = jobs[2].json()["id"]
    (row,) = manual.client.get(f"/v1/jobs/{last}/claim-secrets", headers=headers).json()["secrets"]
    buyer = Account.create().address
    r = manual.client.post(
        f"/v1/twins/{collection}/{token_id(1, 2)}/claim", json={"secret": row["secret"], "recipient": buyer}
    )
    assert r.status_code == 200, r.text


def test_a_refused_brand_fails_every_chunk_of_the_batch(manual: Stack) -> None:
    headers, collection = manual.new_brand("Refused House", "RFSD")
    brand_id = manual.client.get("/v1/brands/me", headers=headers).json()["id"]
    jobs = [
        manual.client.post("/v1/twins", json=physical(f"R-{i}", code=CODE), headers=headers).json()["id"]
        for i in range(3)
    ]
    r = manual.client.post(
        f"/v1/brands/{brand_id}/compromise", json={"since": int(time.time()) - 1}, headers=manual.operator
    )
    assert r.status_code == 200, r.text
    manual.runtime.worker.drain()
    key = manual.client.post(f"/v1/brands/{brand_id}/keys", headers=manual.operator).json()["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    for job_id in jobs:
        job = manual.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        assert job["state"] == "failed" and job["error"] == "TwinmarkCollectionBrandCompromised", job
        assert job["batches"][0]["batch_id"] is None
    assert manual.runtime.chain.collection(collection).functions.nextBatchId().call() == 1


# ---------------------------------------------------------------- SIGKILL in the middle of a coalesced batch


@pytest.fixture(params=["sqlite", "postgres"])
def slow_chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, dict[str, str]]]:
    # One block per second: transactions stay pending long enough to die with the worker.
    anvil = Anvil(extra_args=("--block-time", "1"))
    anvil.start()
    env = {
        "TWINMARK_DATA_DIR": str(tmp_path),
        "TWINMARK_CHAIN_RPC_URL": anvil.url,
        "TWINMARK_SIGNER_KEY": SIGNER_KEY,
        "TWINMARK_OPERATOR_TOKEN": OPERATOR,
        "TWINMARK_DATABASE_URL": _database_url(request, tmp_path),
        "TWINMARK_COALESCE_MAX_TWINS": "10",
        "TWINMARK_COALESCE_WINDOW_SECONDS": "0.2",
        "TWINMARK_WORKER_MAX_IN_FLIGHT": "2",
        "TWINMARK_WORKER_LEASE_SECONDS": "1.5",
        "TWINMARK_INDEXER_IN_PROCESS": "false",
    }
    settings = Settings(**{k.removeprefix("TWINMARK_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    rt = Runtime.start(settings, with_worker=False)
    try:
        with TestClient(create_app(runtime=rt)) as client:
            yield rt, client, env
    finally:
        rt.stop()
        anvil.stop()


def _spawn_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"],
        cwd=ROOT,
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _states(rt: Runtime) -> Counter[str]:
    with Session(rt.engine) as s:
        return Counter(c.state for c in s.exec(select(Chunk)))


def test_sigkill_in_the_middle_of_a_coalesced_batch(
    slow_chain: tuple[Runtime, TestClient, dict[str, str]],
) -> None:
    rt, client, env = slow_chain
    r = client.post(
        "/v1/brands", json={"name": "Crash Coalesce", "symbol": "CRCO"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    )
    brand = {"Authorization": f"Bearer {r.json()['api_key']}"}
    collection = r.json()["collections"][0]["address"]
    serials = [f"KC-{i:03d}" for i in range(60)]
    job_of: dict[str, str] = {}
    for serial in serials:
        body = physical(serial, code=CODE) | {"claimable": serial.endswith("7")}
        r = client.post("/v1/twins", json=body, headers=brand)
        assert r.status_code == 202, r.text
        job_of[serial] = r.json()["id"]

    worker = _spawn_worker(env)
    seen: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = _states(rt)
            # Some batches recorded, one broadcast and not recorded, others not formed: the middle.
            if seen[ChunkState.recorded] >= 10 and seen[ChunkState.sent] >= 10 and seen[ChunkState.validated] >= 10:
                break
            time.sleep(0.01)
        else:
            pytest.fail(f"never reached the middle of the coalesced batches: {seen}")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL

    restarted = _spawn_worker(env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(c.state == ChunkState.recorded for c in _chunks(rt)):
                break
            time.sleep(0.1)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=20)

    # On chain: six batches of ten, each minted once with the directory the registry recorded.
    contract = rt.chain.collection(collection)
    assert contract.functions.totalMinted().call() == 60
    assert contract.functions.nextBatchId().call() == 7
    chunks = _chunks(rt)
    by_batch: dict[int, list[Chunk]] = {}
    for c in chunks:
        assert c.batch_id is not None
        by_batch.setdefault(c.batch_id, []).append(c)
    assert sorted(by_batch) == list(range(1, 7))
    for batch_id, members in by_batch.items():
        header, anchor, _ = contract.functions.batch(batch_id).call()
        assert header[1] == 10 == len(members)
        assert {c.dir_cid for c in members} == {members[0].dir_cid}
        assert anchor == CID.parse(members[0].dir_cid or "").digest
        assert sorted(c.batch_offset for c in members) == list(range(10))
        assert len({c.tx_hash for c in members}) == 1
    # In the registry: every job completed with its own twin, each twin once.
    with Session(rt.engine) as s:
        twins = s.exec(select(Twin).where(Twin.collection == collection)).all()
    assert len(twins) == 60 and len({t.token_id for t in twins}) == 60
    for serial, job_id in job_of.items():
        job = client.get(f"/v1/jobs/{job_id}", headers=brand).json()
        assert job["state"] == "completed", job
        (twin,) = job["twins"]
        assert twin["serial"] == serial and batch_of(twin["token_id"]) == job["batches"][0]["batch_id"]
        assert contract.functions.tokenURI(twin["token_id"]).call() == twin["token_uri"]
    claimed = next(s for s in serials if s.endswith("7"))
    (row,) = client.get(f"/v1/jobs/{job_of[claimed]}/claim-secrets", headers=brand).json()["secrets"]
    r = client.post(
        f"/v1/twins/{collection}/{row['token_id']}/claim",
        json={"secret": row["secret"], "recipient": Account.create().address},
    )
    assert r.status_code == 200, r.text


def _chunks(rt: Runtime) -> list[Chunk]:
    with Session(rt.engine) as s:
        return list(s.exec(select(Chunk)).all())
