"""One real service stack (SQLite) per test module, for faults that need a running service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry.chain.anvil import Anvil
from tests.api.conftest import Stack, running_stack, stack_settings


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(tmp_path_factory.mktemp("resilience"), anvil, indexer_in_process=False)
    with running_stack(settings, anvil) as running:
        yield running
