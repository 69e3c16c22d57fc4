"""The API stack (SQLite and PostgreSQL) of tests/api, for the NFC routes."""

from __future__ import annotations

from tests.api.conftest import postgres_server, stack  # noqa: F401 - fixtures used by this package's tests
