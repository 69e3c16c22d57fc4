"""The API stack (SQLite and PostgreSQL) of tests/api, for the NFC routes."""

from __future__ import annotations

from tests.api.conftest import stack  # noqa: F401 - the fixture this package's tests use
