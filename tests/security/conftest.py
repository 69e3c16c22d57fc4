"""One real service stack (SQLite) per test module, for attacks that need a running service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import Stack, fresh_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(tmp_path_factory.mktemp("security"), indexer_in_process=False) as running:
        yield running
