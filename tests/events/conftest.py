"""The contract tests' fixtures (a deployed registry with two brand collections, rolled back per test)."""

from tests.contracts.conftest import chain, d, deployed

__all__ = ["chain", "d", "deployed"]
