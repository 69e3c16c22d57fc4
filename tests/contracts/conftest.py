from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from tests.contracts.chain import Chain, Deployment, deploy_twinmark


@pytest.fixture(scope="session")
def chain(w3: Web3) -> Chain:
    return Chain(w3)


@pytest.fixture(scope="session")
def deployed(chain: Chain, w3: Web3) -> Deployment:
    return deploy_twinmark(chain, list(w3.eth.accounts))


@pytest.fixture
def d(deployed: Deployment, w3: Web3) -> Iterator[Deployment]:
    """The deployment, rolled back to its pristine state after each test."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield deployed
    w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
