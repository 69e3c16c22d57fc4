"""The Alembic migrations build exactly the schema the SQLModel tables declare (no drift either way)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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
