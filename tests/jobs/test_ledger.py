"""The batch ledger on its own (SQLite, no chain): forming and reserving batches, giving ids back,
and the promise it keeps for the contract, which mints batch N only when N is the next id: the
batches waiting to be sent always hold the ids from the chain's next one on, without a gap."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry.brands.models import Brand, Collection
from registry.db.engine import make_engine, migrate, session_scope
from registry.jobs import ledger
from registry.jobs.models import Chunk, ChunkState, Job, JobState

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database, copied for every test (migrating each time would dominate the run)."""
    path = tmp_path_factory.mktemp("ledger") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with session_scope(engine) as s:
        s.add(Brand(id="brand", name="Brand", chain_brand_id=1, admin_address=A))
        s.flush()
        s.add_all(Collection(address=a, brand_id="brand", name=a, symbol="T") for a in (A, B))
    engine.dispose()
    return path


def _copy(template: Path, to: Path) -> Engine:
    shutil.copy(template, to)
    return make_engine(f"sqlite:///{to}")


@pytest.fixture
def engine(template: Path, tmp_path: Path) -> Iterator[Engine]:
    engine = _copy(template, tmp_path / "ledger.db")
    yield engine
    engine.dispose()


def add(s: Session, size: int = 1, *, collection: str = A, kind: int = 0, age: float = 0.0) -> int:
    """A validated chunk of its own (accepted) job; returns its id."""
    created = datetime.now(UTC) - timedelta(seconds=age)
    job = Job(id=str(uuid.uuid4()), brand_id="brand", request_hash="h", kind="batch", total=size, created_at=created)
    s.add(job)
    s.flush()
    chunk = Chunk(job_id=job.id, seq=0, collection=collection, twin_kind=kind, size=size, payload="[]")
    s.add(chunk)
    s.flush()
    assert chunk.id is not None
    return chunk.id


def form(s: Session, leader: int, *riders: int) -> int:
    """Plans and reserves a batch the way the worker does; returns its batch id."""
    planned = ledger.candidates(s, leader, riders)
    batch_id = ledger.next_batch_id(s, planned[0].collection)
    assert ledger.reserve(
        s, leader, riders, [m.id for m in planned], batch_id, dir_cid=f"dir{batch_id}", claim_root=None
    )
    return batch_id


def counter(s: Session, address: str = A) -> int:
    return ledger.next_batch_id(s, address)


def chunk(s: Session, chunk_id: int) -> Chunk:
    found = s.get(Chunk, chunk_id)
    assert found is not None
    return found


# ---------------------------------------------------------------- forming a batch


def test_a_reservation_forms_the_batch_and_moves_the_counter(engine: Engine) -> None:
    with session_scope(engine) as s:
        ids = [add(s, 3), add(s, 2), add(s, 4)]
        assert form(s, ids[0], *ids[1:]) == 1
    with session_scope(engine) as s:
        leader, *riders = (chunk(s, i) for i in ids)
        assert [c.batch_offset for c in (leader, *riders)] == [0, 3, 5]  # each rider starts after the one before
        assert leader.leader_id is None and all(r.leader_id == leader.id for r in riders)
        assert {(c.state, c.batch_id, c.dir_cid) for c in (leader, *riders)} == {(ChunkState.stored, 1, "dir1")}
        assert [m.id for m in ledger.members(s, leader)] == ids
        assert counter(s) == 2 and counter(s, B) == 1
        assert {j.state for j in s.exec(select(Job)).all()} == {JobState.running}


def test_only_riders_that_fit_the_leader_join_it(engine: Engine) -> None:
    with session_scope(engine) as s:
        leader, other_collection, other_kind, fits = add(s), add(s, collection=B), add(s, kind=1), add(s)
        assert [c.id for c in ledger.candidates(s, leader, [other_collection, other_kind, fits])] == [leader, fits]
        form(s, leader, fits)
        # A leader already formed (or any longer waiting) plans nothing.
        assert ledger.candidates(s, leader, []) == []


def test_a_stale_plan_writes_nothing(engine: Engine) -> None:
    """The worker plans outside the transaction (it stores the directory meanwhile): a plan whose
    counter or members changed since is dropped whole."""
    with session_scope(engine) as s:
        first, second, rider = add(s), add(s), add(s)
        planned = [first]
        assert ledger.next_batch_id(s, A) == 1
        form(s, second)  # takes batch 1 meanwhile
        assert not ledger.reserve(s, first, [], planned, 1, dir_cid="dir1", claim_root=None)
        assert chunk(s, first).state == ChunkState.validated and counter(s) == 2
        chunk(s, rider).state = ChunkState.failed  # a planned rider moved on meanwhile
        assert not ledger.reserve(s, first, [rider], [first, rider], 2, dir_cid="dir2", claim_root=None)
        assert chunk(s, first).state == ChunkState.validated and counter(s) == 2


# ---------------------------------------------------------------- giving an id back


def test_a_released_id_is_the_next_one_and_later_unsent_batches_regroup(engine: Engine) -> None:
    with session_scope(engine) as s:
        a, b, c = add(s), add(s), add(s)
        form(s, a), form(s, b), form(s, c)
        ledger.release(s, [chunk(s, a)])
        assert chunk(s, a).batch_id is None and counter(s) == 1
        for later in (b, c):  # their directories name ids that are no longer theirs: back to waiting
            assert (chunk(s, later).state, chunk(s, later).batch_id) == (ChunkState.validated, None)
        assert form(s, b) == 1


def test_a_release_behind_a_mint_in_flight_leaves_the_counter(engine: Engine) -> None:
    """A later batch already broadcast will revert with UnexpectedBatchId; moving the counter back
    under it would hand its id out twice."""
    with session_scope(engine) as s:
        a, b, c = add(s), add(s), add(s)
        form(s, a), form(s, b), form(s, c)
        chunk(s, b).state = ChunkState.sent
        ledger.release(s, [chunk(s, a)])
        assert counter(s) == 4
        assert (chunk(s, b).state, chunk(s, b).batch_id) == (ChunkState.sent, 2)
        assert (chunk(s, c).state, chunk(s, c).batch_id) == (ChunkState.validated, None)


def test_a_release_touches_no_other_collection(engine: Engine) -> None:
    with session_scope(engine) as s:
        a, other = add(s), add(s, collection=B)
        form(s, a), form(s, other)
        ledger.release(s, [chunk(s, a)])
        assert (chunk(s, other).state, chunk(s, other).batch_id, counter(s, B)) == (ChunkState.stored, 1, 2)


def test_released_riders_leave_with_their_leader(engine: Engine) -> None:
    with session_scope(engine) as s:
        lead, rider = add(s, 2), add(s, 3)
        form(s, lead, rider)
        members = ledger.members(s, chunk(s, lead))
        ledger.release(s, members)
        assert [(m.batch_id, m.leader_id, m.batch_offset) for m in members] == [(None, None, 0), (None, None, 0)]


# ---------------------------------------------------------------- what the chain says


def test_held_sees_other_live_batches_only(engine: Engine) -> None:
    with session_scope(engine) as s:
        a, b = add(s), add(s)
        form(s, a), form(s, b)
        assert ledger.held(s, chunk(s, b), 1) and not ledger.held(s, chunk(s, a), 1)  # not by itself
        chunk(s, a).state = ChunkState.recorded  # minted: no longer a reservation
        assert not ledger.held(s, chunk(s, b), 1)


def test_an_overtaken_batch_waits_past_the_chains_ids(engine: Engine) -> None:
    with session_scope(engine) as s:
        a = add(s)
        form(s, a)
        ledger.overtaken(s, [chunk(s, a)], 7)
        assert (chunk(s, a).state, chunk(s, a).batch_id, counter(s)) == (ChunkState.validated, None, 7)
        ledger.overtaken(s, [chunk(s, a)], 3)  # never backwards
        assert counter(s) == 7


def test_a_gap_is_filled_by_the_next_reservation(engine: Engine) -> None:
    with session_scope(engine) as s:
        a, b = add(s), add(s)
        form(s, a), form(s, b)
        ledger.fill_gap(s, [chunk(s, b)], 1)  # the chain still expects 1: batch 1's mint was given back
        assert (chunk(s, b).state, counter(s)) == (ChunkState.validated, 1)
        assert form(s, b) == 1


# ---------------------------------------------------------------- what the dispatcher reads


def test_the_dispatcher_sees_waiting_leaders_oldest_first(engine: Engine) -> None:
    with session_scope(engine) as s:
        lead, rider, alone, late = add(s, age=5), add(s, age=4), add(s, collection=B, age=3), add(s)
        form(s, lead, rider)
        chunk(s, late).state = ChunkState.sent
        seen = ledger.waiting(s, 10)
        assert [(w.id, w.state) for w in seen] == [(lead, ChunkState.stored), (alone, ChunkState.validated)]
        assert all(w.since.tzinfo is not None for w in seen) and seen[0].since < seen[1].since
        assert [w.id for w in ledger.waiting(s, 1)] == [lead]
        assert ledger.in_flight(s) == 1 and ledger.unfinished(s) == 4
        assert [c.id for c in ledger.leaders(s, ChunkState.stored)] == [lead]


# ---------------------------------------------------------------- the promise, under any order of events


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["reserve", "mint", "fail"]), st.integers(0, 5)), max_size=30))
@example([("reserve", 0), ("reserve", 0), ("reserve", 0), ("fail", 1), ("mint", 0), ("reserve", 0)])
def test_waiting_batches_hold_the_next_ids_without_a_gap(
    template: Path, tmp_path: Path, events: list[tuple[str, int]]
) -> None:
    """Reservations, mints in the contract's order and failures of unsent batches, in any order: the
    batches stored for sending always hold exactly the ids from the chain's next one to the counter."""
    engine = _copy(template, tmp_path / f"{uuid.uuid4()}.db")
    chain_next = 1
    try:
        with session_scope(engine) as s:
            for _ in range(8):
                add(s)
        for event, pick in events:
            with session_scope(engine) as s:
                stored = sorted(ledger.leaders(s, ChunkState.stored), key=lambda c: c.batch_id or 0)
                waiting = [c for c in s.exec(select(Chunk).order_by(col(Chunk.id))) if c.state == ChunkState.validated]
                if event == "reserve" and waiting:
                    form(s, waiting[pick % len(waiting)].id)  # type: ignore[arg-type]
                elif event == "mint" and stored and stored[0].batch_id == chain_next:
                    stored[0].state = ChunkState.recorded
                    chain_next += 1
                elif event == "fail" and stored:
                    doomed = stored[pick % len(stored)]
                    ledger.release(s, [doomed])
                    doomed.state = ChunkState.failed
            with session_scope(engine) as s:
                held = sorted(c.batch_id or 0 for c in ledger.leaders(s, ChunkState.stored))
                assert held == list(range(chain_next, counter(s)))
    finally:
        engine.dispose()
