"""A PostgreSQL outage is logged as one line per loop (and one for the API's requests) when it
starts and one when it ends (issue 19, finding 9): no traceback per pool error, no line per request.
A chain provider failing every request likewise: one line when it goes, one when it is back."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.chain.anvil import Anvil
from tests.api.conftest import Stack, fresh_stack, running_stack, stack_settings
from tests.resilience.test_postgres_restart import Postgres
from tests.support.chain_conditions import ChainConditions

OUTAGE_SECONDS = 8.0  # twice a lease (4 s): every loop meets it
WHO = ("mint worker", "indexer", "webhook sender", "requests")


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    with tempfile.TemporaryDirectory(prefix="twinmark-pg-") as tmp:
        pg = Postgres(Path(tmp) / "data")
        with pg.server:
            yield pg


@pytest.fixture
def stack(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path_factory.mktemp("pg-logs"),
        database_url=postgres.create_database("twinmark"),
        indexer_in_process=True,
        worker_lease_seconds=4.0,
        worker_poll_seconds=0.1,
    ) as running:
        yield running


def _ours(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name.startswith(("registry", "api")) and r.levelno >= logging.WARNING]


def test_an_outage_is_two_lines_per_loop_and_no_traceback(
    stack: Stack, postgres: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    headers, _ = stack.new_brand("Quiet House", "QUIET")
    caplog.set_level(logging.INFO)
    caplog.clear()
    postgres.stop()
    stopped = time.monotonic()
    refused = 0
    try:
        while time.monotonic() - stopped < OUTAGE_SECONDS:
            for path in ("/v1/jobs/none", "/readyz"):
                r = stack.client.get(path, headers=headers)
                assert r.status_code == 503, r.text
                refused += 1
            time.sleep(0.25)
    finally:
        postgres.start()
    assert refused > 20

    deadline = time.monotonic() + 40
    while not all(any(f"{who}: database reachable again" in r.getMessage() for r in caplog.records) for who in WHO):
        assert time.monotonic() < deadline, "\n".join(r.getMessage() for r in _ours(caplog.records))
        stack.client.get("/readyz")  # a statement of the API's own: ends the requests' outage
        time.sleep(0.5)

    ours = _ours(caplog.records)
    text = "\n".join(f"{r.name} {r.levelname} {r.getMessage()}" for r in ours)
    assert all(r.exc_info is None and not r.exc_text for r in ours), text
    for who in WHO:
        assert sum(r.getMessage().startswith(f"{who}: database unreachable") for r in ours) == 1, text
        assert sum(r.getMessage().startswith(f"{who}: database reachable again") for r in ours) == 1, text
    assert len(ours) <= 2 * len(WHO) + 2, text  # allowance: a lease that could not be released in time
    assert "Traceback" not in caplog.text


def test_a_provider_incident_is_two_lines_for_the_indexer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    anvil = Anvil()
    anvil.start()
    with ChainConditions(anvil.url) as proxy:
        settings = stack_settings(tmp_path, anvil, chain_rpc_url=proxy.url, indexer_poll_seconds=0.1)
        with running_stack(settings, anvil) as stack:
            caplog.set_level(logging.INFO)
            caplog.clear()
            with proxy.imposing(fail_rate=1.0):  # every request answered 500 or 503
                time.sleep(OUTAGE_SECONDS)
                assert proxy.stats().failures > 10
            deadline = time.monotonic() + 30
            while not any("indexer: chain node reachable again" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.2)
            assert stack.client.get("/readyz").status_code == 200
    ours = _ours(caplog.records)
    text = "\n".join(f"{r.name} {r.levelname} {r.getMessage()}" for r in ours)
    assert sum(r.getMessage().startswith("indexer: chain node unreachable") for r in ours) == 1, text
    assert sum(r.getMessage().startswith("indexer: chain node reachable again") for r in ours) == 1, text
    assert all(r.exc_info is None for r in ours) and len(ours) <= 4, text
    assert "chain-conditions-key" not in caplog.text  # the provider's key (in its URL path) never logged
