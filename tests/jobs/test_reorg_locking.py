"""A reorganisation orphaning batches while a mint worker in another process is recording, on
PostgreSQL: the indexer's hand-back waits for the recording to commit and then takes back what it wrote
(the job's recorded count, its completion), instead of reading the batch as merely confirmed; and a job
whose twins sit in two batches keeps an exact count when one batch is handed back while the worker
records the other (a plain read then write lost the worker's count)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from registry.brands.models import Brand, Collection
from registry.db.engine import make_engine, migrate, session_scope
from registry.jobs.models import Chunk, ChunkState, Job, JobState
from registry.jobs.states import reopen_batch

ADDRESS = "0x" + "ab" * 20


@pytest.fixture
def engine(tmp_path: Path, postgres_server: Any) -> Iterator[Engine]:
    name = f"twinmark_{tmp_path.name.replace('-', '_').lower()}"
    with psycopg.connect(postgres_server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(postgres_server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1))
    migrate(engine)
    with session_scope(engine) as s:
        s.add(Brand(id="b1", name="Reorg House", chain_brand_id=1, admin_address="0x" + "01" * 20))
        s.flush()
        s.add(Collection(address=ADDRESS, brand_id="b1", name="Reorg House", symbol="RG"))
    yield engine
    engine.dispose()


def _job(engine: Engine, *chunks: tuple[int, ChunkState]) -> list[int]:
    """Job j1 with a chunk of 3 twins in each (batch id, state); its count says what is recorded."""
    recorded = sum(3 for _, state in chunks if state == ChunkState.recorded)
    with session_scope(engine) as s:
        s.add(Job(id="j1", brand_id="b1", request_hash="h", kind="batch", total=3 * len(chunks), recorded=recorded))
        s.flush()
        rows = [
            Chunk(
                job_id="j1",
                seq=n,
                collection=ADDRESS,
                twin_kind=0,
                size=3,
                state=state,
                batch_id=batch,
                dir_cid="bafy",
                tx_hash="0x" + "cd" * 32,
                block_number=7,
                payload="[]",
            )
            for n, (batch, state) in enumerate(chunks)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows if r.id is not None]


@contextmanager
def reorg_of_batch_1(engine: Engine) -> Iterator[threading.Event]:
    """The indexer handing batch 1 back on its own thread; the event is set once it has committed."""
    handed_back = threading.Event()

    def reorg() -> None:
        with session_scope(engine) as s:
            reopen_batch(s, ADDRESS, 1)
        handed_back.set()

    indexer = threading.Thread(target=reorg)
    indexer.start()
    try:
        yield handed_back
    finally:
        indexer.join(timeout=30)


def test_the_hand_back_waits_for_a_recording_in_flight_and_undoes_it(engine: Engine) -> None:
    [chunk_id] = _job(engine, (1, ChunkState.confirmed))
    # The worker's `_record` transaction in another process, half-way: the chunk locked, not yet written.
    with Session(engine) as recording:
        locked = recording.exec(select(Chunk).where(Chunk.id == chunk_id).with_for_update()).one()
        with reorg_of_batch_1(engine) as handed_back:
            assert not handed_back.wait(1.0)  # it waits for the recording
            locked.state = ChunkState.recorded
            job = recording.get(Job, "j1")
            assert job is not None
            job.recorded, job.state = 3, JobState.completed
            recording.commit()
        assert handed_back.is_set()
    with Session(engine) as s:
        after, job = s.get(Chunk, chunk_id), s.get(Job, "j1")
        assert after is not None and job is not None
        assert (after.state, after.tx_hash, after.block_number) == (ChunkState.stored, None, None)
        assert (job.recorded, job.state) == (0, JobState.running)  # the recording taken back whole


def test_a_job_in_two_batches_keeps_its_count_when_one_is_handed_back_during_the_others_recording(
    engine: Engine,
) -> None:
    first, second = _job(engine, (1, ChunkState.recorded), (2, ChunkState.confirmed))
    with Session(engine) as recording:  # the worker recording batch 2: its count written, not committed
        chunk = recording.exec(select(Chunk).where(Chunk.id == second).with_for_update()).one()
        job = recording.get(Job, "j1")
        assert job is not None and job.recorded == 3
        job.recorded += 3
        chunk.state = ChunkState.recorded
        recording.flush()
        with reorg_of_batch_1(engine) as handed_back:
            assert not handed_back.wait(1.0)  # the job row is the worker's until it commits
            recording.commit()
        assert handed_back.is_set()
    with Session(engine) as s:
        job, one, two = s.get(Job, "j1"), s.get(Chunk, first), s.get(Chunk, second)
        assert job is not None and one is not None and two is not None
        assert (one.state, two.state) == (ChunkState.stored, ChunkState.recorded)
        assert job.recorded == 3  # batch 2's three, not 0 (the worker's +3 lost) nor 6
