"""A database that is away for longer than its lock timeout (a SQLite write lock held past it; the same
path as a PostgreSQL restart) does not kill the background loops: readiness says so while it lasts,
and the job in flight completes afterwards with no manual step."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import registry.db.engine
from tests.api.conftest import Stack, fresh_stack, physical

# The service waits 30 s for a SQLite lock; here 5 s, so that a lock outlasting both it and
# `loop_stale_seconds` (10 s) takes 15 s rather than 35 (the same failures, twenty seconds sooner).
LOCK_TIMEOUT = 5.0
LOCK_SECONDS = 15.0


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    create_engine = registry.db.engine.create_engine

    def with_shorter_lock_timeout(url: str, **kw: Any) -> Any:
        if "connect_args" in kw:  # SQLite's
            kw["connect_args"] = kw["connect_args"] | {"timeout": LOCK_TIMEOUT}
        return create_engine(url, **kw)

    monkeypatch.setattr(registry.db.engine, "create_engine", with_shorter_lock_timeout)
    with fresh_stack(
        tmp_path_factory.mktemp("outage"),
        indexer_in_process=True,
        worker_lease_seconds=4.0,  # renewals every ~2 s: the loops meet the lock at once
        loop_stale_seconds=10.0,
    ) as running:
        yield running


def test_loops_survive_a_sqlite_lock_longer_than_its_timeout_and_the_job_completes(stack: Stack) -> None:
    headers, _ = stack.new_brand("Outage House", "OUT")
    w3 = stack.runtime.w3
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
    job = stack.client.post("/v1/batches", json={"twins": [physical(f"D-{i}") for i in range(3)]}, headers=headers)
    assert job.status_code == 202

    path = stack.runtime.settings.data_dir / "twinmark.db"
    lock = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
    lock.execute("BEGIN EXCLUSIVE")
    lock.execute("UPDATE leases SET holder = holder")  # a write lock, held like a stuck migration would
    released = threading.Event()

    def release_later() -> None:
        time.sleep(LOCK_SECONDS)
        lock.execute("ROLLBACK")
        lock.close()
        released.set()

    threading.Thread(target=release_later, daemon=True).start()
    not_ready = []
    while not released.is_set():
        r = stack.client.get("/readyz")
        if r.status_code == 503:
            not_ready.append(r.json()["type"])
        time.sleep(2)
    assert not_ready, "readiness never reported the outage"
    assert all(t.endswith(("/not-ready", "/database-unavailable")) for t in not_ready), not_ready

    done = stack.wait_job(headers, job.json()["id"], timeout=90)
    assert done["state"] == "completed" and done["counts"]["recorded"] == 3, done
    assert all(t.is_alive() for t in stack.runtime._threads)
    deadline = time.monotonic() + 30
    while stack.client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, stack.client.get("/readyz").text
        time.sleep(0.5)
    w3.provider.make_request("evm_setIntervalMining", [0])  # type: ignore[arg-type]
    w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
