"""Fencing between mint workers, on PostgreSQL: two workers (each with its own chain senders, as two
processes would have) on one database and one Anvil. A worker that stalled past its claim's expiry
and had its collection taken over must neither reserve a batch id nor broadcast a mint for it; and a
worker's transaction that holds its claim row keeps anyone from taking the claim over meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.chain.anvil import Anvil
from registry.db.engine import session_scope
from registry.db.lease import Lease
from registry.jobs.claims import ClaimLost
from registry.jobs.models import Chunk, ChunkState
from registry.jobs.worker import MintWorker
from registry.runtime import Runtime
from registry.twins.models import Twin
from tests.api.conftest import physical, running_stack, stack_settings


def _stall(worker: MintWorker) -> None:
    """What a long GC pause or a frozen disk looks like from the database: every claim of the worker
    expired, while the worker itself still believes it holds them."""
    with session_scope(worker.engine) as s:
        past = datetime.now(UTC) - timedelta(seconds=1)
        s.execute(update(Lease).where(col(Lease.holder) == worker.claims.holder).values(expires_at=past))


def _state(worker: MintWorker, address: str) -> tuple[list[tuple[Any, ...]], int, int]:
    """The collection's batches, its counter, and the signer's transaction count at the node."""
    with Session(worker.engine) as s:
        chunks = [
            (c.id, c.state, c.batch_id, c.dir_cid, c.tx_hash) for c in s.exec(select(Chunk).order_by(col(Chunk.id)))
        ]
        counter = s.get(Collection, address)
        assert counter is not None
        next_id = counter.next_batch_id
    return chunks, next_id, worker.chain.sender.node_nonce()


def test_a_stale_worker_neither_reserves_nor_sends(tmp_path: Path, postgres_server: Any) -> None:
    name = f"twinmark_{tmp_path.name.replace('-', '_').lower()}"
    with psycopg.connect(postgres_server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = postgres_server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp_path, anvil, database_url=database, chunk_size=10, coalesce_window_seconds=0, indexer_in_process=False
    )
    with running_stack(settings, anvil, with_worker=False) as stack:
        other = Runtime.start(settings, with_worker=False, with_indexer=False)  # the second process
        try:
            headers, address = stack.new_brand("Fence House", "FENC")
            twins = [physical(f"F-{i:02d}", code="590123412345") for i in range(20)]
            job = stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()["id"]
            stale, fresh = stack.runtime.worker, other.worker
            assert stale.lease.hold() and stale.claims.collections == {address}
            with Session(stack.runtime.engine) as s:
                first, second = [c.id for c in s.exec(select(Chunk).order_by(col(Chunk.id)))]
            stale._store(first)  # batch 1 reserved while the claim held
            _stall(stale)

            # Acting and taking over exclude each other: while the stale worker's transaction holds the
            # claim row (still its own, expired), the other worker cannot take it.
            with session_scope(stale.engine) as s:
                stale.claims.fence(s, address)
                fresh.claims.renew(datetime.now(UTC))
                assert address not in fresh.claims.collections
            fresh.claims.renew(datetime.now(UTC))
            assert fresh.claims.collections == {address} and fresh.claims.lanes == {0}

            # The stale worker wakes up believing it still holds the collection and lane 0.
            assert stale.claims.collections == {address} and stale.claims.lanes == {0}
            before = _state(stale, address)
            assert before[0][0][1] == ChunkState.stored and before[0][1][1] == ChunkState.validated
            with pytest.raises(ClaimLost):
                stale._send(first, 0)  # the broadcast would happen inside this transaction
            with pytest.raises(ClaimLost):
                stale._store(second)  # would reserve batch 2
            assert stale.claims.collections == set()  # it knows now
            stale.claims.collections = {address}  # and forgets again: a whole pass still writes nothing
            assert stale.step()
            assert _state(stale, address) == before  # no chunk changed, counter unmoved, nothing broadcast

            fresh.drain(timeout=60)
            done = stack.client.get(f"/v1/jobs/{job}", headers=headers).json()
            assert done["state"] == "completed", done
            assert stack.runtime.chain.collection(address).functions.totalMinted().call() == 20
            with Session(stack.runtime.engine) as s:
                assert len({t.token_id for t in s.exec(select(Twin))}) == 20
        finally:
            other.stop()
