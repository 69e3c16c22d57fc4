"""Database engine and sessions. SQLite (default) and PostgreSQL behave the same to callers."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, text
from sqlmodel import Session, create_engine

from registry.db.outage import REQUESTS

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    engine = _engine(url)
    # A connection handed out (after its pre-ping, on PostgreSQL) ends a database outage the requests
    # met (one log line for it). Once per checkout, not per statement: it costs next to nothing.
    event.listen(engine, "checkout", _reached)
    return engine


def _reached(*_args: Any) -> None:
    REQUESTS.reached()


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the worker's writes; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


MIGRATION_LOCK = 0x7477696E6D61726B  # "twinmark": the PostgreSQL advisory lock migrations hold


def migrate(engine: Engine) -> None:
    """Applies every Alembic migration (idempotent). Processes starting together (API workers, the
    mint worker, the indexer) migrate one after the other: without a lock, two creating the first
    tables of an empty database collided and one exited (found by the chaos soak on PostgreSQL, and by
    `uvicorn --workers 4` on a fresh SQLite file). PostgreSQL: an advisory lock; SQLite: a file lock."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _sqlite_file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})  # until commit
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on `<database file>.migrate-lock` (none for PostgreSQL or in-memory SQLite);
    the kernel drops it when the process dies, so a killed migration never leaves it held."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
