"""Shared fixtures: one real Anvil node per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from registry.chain.anvil import Anvil


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
