"""Alembic environment: migrations run on the connection `registry.db.engine.migrate` hands over.

The metadata is collected here, by importing every `models` module of the package's domains, so
the database layer never names (or imports) a domain.
"""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import registry
from registry.db import lease, ratelimit  # noqa: F401  (the database layer's own tables)

for info in pkgutil.walk_packages(registry.__path__, "registry."):
    if info.name.rsplit(".", 1)[-1] == "models":
        importlib.import_module(info.name)  # registers the domain's tables on SQLModel.metadata

target_metadata = SQLModel.metadata
config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` command line: use sqlalchemy.url from the config
    connection = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://").connect()

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
