"""A reorganisation orphaning a batch that a mint worker in another process is recording at that very
moment, on PostgreSQL: the indexer's hand-back waits for the recording to commit and then takes back
what it wrote (the job's recorded count, its completion), instead of reading the batch as merely
confirmed and leaving the job counting twins the chain no longer has."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
from sqlmodel import Session, select

from registry.brands.models import Brand, Collection
from registry.db.engine import make_engine, migrate, session_scope
from registry.jobs.models import Chunk, ChunkState, Job, JobState
from registry.jobs.states import reopen_batch

ADDRESS = "0x" + "ab" * 20


def test_the_hand_back_waits_for_a_recording_in_flight_and_undoes_it(tmp_path: Path, postgres_server: Any) -> None:
    name = f"twinmark_{tmp_path.name.replace('-', '_').lower()}"
    with psycopg.connect(postgres_server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(postgres_server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1))
    migrate(engine)
    with session_scope(engine) as s:
        s.add(Brand(id="b1", name="Reorg House", chain_brand_id=1, admin_address="0x" + "01" * 20))
        s.flush()
        s.add(Collection(address=ADDRESS, brand_id="b1", name="Reorg House", symbol="RG"))
        s.add(Job(id="j1", brand_id="b1", request_hash="h", kind="batch", total=3, state=JobState.running))
        s.flush()
        chunk = Chunk(
            job_id="j1",
            seq=0,
            collection=ADDRESS,
            twin_kind=0,
            size=3,
            state=ChunkState.confirmed,
            batch_id=1,
            dir_cid="bafy",
            tx_hash="0x" + "cd" * 32,
            block_number=7,
            payload="[]",
        )
        s.add(chunk)
        s.flush()
        chunk_id = chunk.id

    # The worker's `_record` transaction in another process, half-way: the chunk locked, not yet written.
    recording = Session(engine)
    locked = recording.exec(select(Chunk).where(Chunk.id == chunk_id).with_for_update()).one()
    handed_back = threading.Event()

    def reorg() -> None:
        with session_scope(engine) as s:
            reopen_batch(s, ADDRESS, 1)
        handed_back.set()

    indexer = threading.Thread(target=reorg)
    indexer.start()
    try:
        assert not handed_back.wait(1.0)  # it waits for the recording
        locked.state = ChunkState.recorded
        job = recording.get(Job, "j1")
        assert job is not None
        job.recorded, job.state = 3, JobState.completed
        recording.commit()
    finally:
        recording.close()
        indexer.join(timeout=30)
    assert handed_back.is_set()
    with Session(engine) as s:
        after = s.get(Chunk, chunk_id)
        job = s.get(Job, "j1")
        assert after is not None and job is not None
        assert (after.state, after.tx_hash, after.block_number) == (ChunkState.stored, None, None)
        assert (job.recorded, job.state) == (0, JobState.running)  # the recording taken back whole
    engine.dispose()
