"""A standalone worker started while its chain node or its database is away (issue 19, finding 6)
waits for it with backoff and says so in one line, instead of exiting with a traceback; once the
dependency is back it mints. A signal ends the wait cleanly; a configuration error still fails at
once, in one line."""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry.chain.anvil import Anvil, free_port
from tests.api.conftest import physical, running_stack, stack_settings
from tests.resilience.roles import Role, role

STILL_WAITING = 5.0  # today's `twinmark worker` exits about 3 s after start when the node is away


def _mints_through(worker: Role, data_dir: Path, anvil: Anvil, **settings: str) -> None:
    """An API process over the same data (no worker of its own) takes a twin; the standalone worker mints it."""
    config = stack_settings(data_dir, anvil, worker_in_process=False, indexer_in_process=False, **settings)
    with running_stack(config, anvil) as stack:
        headers, _ = stack.new_brand("Late Start House", "LATE")
        job = stack.client.post("/v1/twins", json=physical("LATE-1"), headers=headers)
        assert job.status_code == 202, job.text
        done = stack.wait_job(headers, job.json()["id"], timeout=60)
        assert done["state"] == "completed", (done, worker.output)
        assert worker.stop() == 0, worker.output  # SIGTERM: the worker stops cleanly


def test_worker_started_while_the_chain_node_is_down_waits_then_mints(tmp_path: Path) -> None:
    port = free_port()  # nobody listens here yet
    with role("worker", tmp_path, chain_rpc_url=f"http://127.0.0.1:{port}") as worker:
        worker.expect("waiting for the chain node", timeout=30)
        time.sleep(STILL_WAITING)
        assert worker.alive(), worker.output
        anvil = Anvil(port=port)
        anvil.start()
        worker.expect("chain node reached after", timeout=30)
        _mints_through(worker, tmp_path, anvil)
    assert "Traceback" not in worker.output, worker.output
    assert f"127.0.0.1:{port}" not in worker.output, worker.output  # the node's URL is never logged
    assert sum("waiting for the chain node" in line for line in worker.lines) == 1, worker.output


@pytest.fixture
def postgres() -> Iterator[object]:
    from tests.resilience.test_postgres_restart import Postgres

    with tempfile.TemporaryDirectory(prefix="twinmark-pg-") as tmp:
        pg = Postgres(Path(tmp) / "data")
        with pg.server:
            yield pg


def test_worker_started_while_postgres_is_stopped_waits_then_mints(postgres: object, tmp_path: Path) -> None:
    from tests.resilience.test_postgres_restart import Postgres

    assert isinstance(postgres, Postgres)
    url = postgres.create_database("twinmark")
    postgres.stop()
    anvil = Anvil()
    anvil.start()
    try:
        with role("worker", tmp_path, chain_rpc_url=anvil.url, database_url=url) as worker:
            worker.expect("waiting for the database", timeout=30)
            time.sleep(STILL_WAITING)
            assert worker.alive(), worker.output
            postgres.start()
            worker.expect("database reached after", timeout=30)
            _mints_through(worker, tmp_path, anvil, database_url=url)
    finally:
        anvil.stop()
    assert "Traceback" not in worker.output, worker.output
    assert sum("waiting for the database" in line for line in worker.lines) == 1, worker.output


def test_a_signal_ends_the_wait_cleanly(tmp_path: Path) -> None:
    with role("indexer", tmp_path, chain_rpc_url=f"http://127.0.0.1:{free_port()}") as indexer:
        indexer.expect("waiting for the chain node", timeout=30)
        started = time.monotonic()
        code = indexer.stop(signal.SIGTERM)
        assert time.monotonic() - started < 5, indexer.output
    assert code == 128 + signal.SIGTERM, indexer.output
    assert "Traceback" not in indexer.output, indexer.output


def test_a_bounded_wait_gives_up_in_one_line(tmp_path: Path) -> None:
    with role("worker", tmp_path, chain_rpc_url=f"http://127.0.0.1:{free_port()}", startup_wait_seconds="4") as worker:
        code = worker.stop(signal.SIGCONT, timeout=60)  # SIGCONT: only waits for the exit
    assert code == 1, worker.output
    assert "chain-unavailable: the chain node stayed unreachable" in worker.output, worker.output
    assert "Traceback" not in worker.output, worker.output


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("chain_id", "1", "the node at TWINMARK_CHAIN_RPC_URL reports chain id 31337, but TWINMARK_CHAIN_ID says 1"),
        (
            "chain",
            "base-sepolia",
            "the node at TWINMARK_CHAIN_RPC_URL reports chain id 31337, but TWINMARK_CHAIN=base-sepolia expects 84532",
        ),
        ("signer_key", "0xnot-a-key-but-a-secret", "unusable key"),
    ],
)
def test_a_configuration_error_fails_at_once_in_one_line(
    anvil: Anvil, tmp_path: Path, setting: str, value: str, says: str
) -> None:
    started = time.monotonic()
    with role("worker", tmp_path, chain_rpc_url=anvil.url, **{setting: value}) as worker:
        code = worker.stop(signal.SIGCONT, timeout=60)
    assert code == 1 and time.monotonic() - started < 30, worker.output
    assert f"configuration: {says}" in worker.output, worker.output
    assert "Traceback" not in worker.output and "waiting for" not in worker.output, worker.output
    assert "not-a-key-but-a-secret" not in worker.output, worker.output


def test_a_database_that_refuses_the_service_fails_at_once(postgres: object, tmp_path: Path, anvil: Anvil) -> None:
    from tests.resilience.test_postgres_restart import Postgres

    assert isinstance(postgres, Postgres)
    with role("worker", tmp_path, chain_rpc_url=anvil.url, database_url=postgres.url("no_such_db")) as worker:
        code = worker.stop(signal.SIGCONT, timeout=60)
    assert code == 1, worker.output
    assert "configuration: the database refused the connection (does not exist)" in worker.output, worker.output
    assert "Traceback" not in worker.output and "waiting for" not in worker.output, worker.output


def test_serve_started_while_the_chain_node_is_down_waits_then_serves(tmp_path: Path) -> None:
    node_port, api_port = free_port(), free_port()
    with role("serve", tmp_path, chain_rpc_url=f"http://127.0.0.1:{node_port}", port=str(api_port)) as server:
        server.expect("waiting for the chain node", timeout=30)
        time.sleep(STILL_WAITING)
        assert server.alive(), server.output
        anvil = Anvil(port=node_port)
        anvil.start()
        try:
            server.expect("Twinmark listening", timeout=30)
            deadline = time.monotonic() + 20
            while True:
                try:
                    r = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=5)
                    if r.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, server.output
                time.sleep(0.2)
            assert r.json()["checks"]["database"] == "ok", r.text
            assert server.stop() in (0, 128 + signal.SIGTERM), server.output  # serve reports the signal
        finally:
            anvil.stop()
    assert "Traceback" not in server.output, server.output
