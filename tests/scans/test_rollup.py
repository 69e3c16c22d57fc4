"""Rollups under concurrency (SQLite and PostgreSQL): every process runs the retention loop, so two may
roll the same day at once; the day's marker row lets one of them win and the other undo its work."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from registry.db.engine import make_engine, migrate, session_scope
from registry.scans import service
from registry.scans.models import Scan, ScanDaily, ScanRollup
from tests.api.conftest import _database_url
from tests.conftest import postgres_server  # noqa: F401 - the fixture _database_url asks for


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    built = make_engine(_database_url(request, tmp_path))
    migrate(built)
    yield built
    built.dispose()


def test_two_processes_rolling_at_once_count_each_day_once(engine: Engine) -> None:
    start = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=6)
    with session_scope(engine) as s:
        for day in range(5):
            for i in range(40):
                s.add(
                    Scan(
                        channel="tap" if i % 4 == 0 else "page",
                        session=f"s{i % 7}",
                        token_id=i % 3,
                        at=start + timedelta(days=day, minutes=i),
                    )
                )
    barrier, errors = threading.Barrier(4), []

    def roll() -> None:
        barrier.wait()
        try:
            service.roll_up(engine)
        except Exception as exc:  # a lost race may surface as the database's own error: retried next round
            errors.append(exc)

    threads = [threading.Thread(target=roll) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    service.roll_up(engine)  # the next round finishes whatever a failed one left
    with session_scope(engine) as s:
        rolled = s.exec(select(ScanRollup.day)).all()
        assert len(rolled) == len(set(rolled))
        assert s.exec(select(func.sum(ScanDaily.scans))).one() == 200
        assert s.exec(select(func.sum(ScanDaily.taps))).one() == 50
        days = s.exec(select(ScanDaily.day).distinct()).all()
    assert sorted(days) == [(start + timedelta(days=d)).date() for d in range(5)]
    assert service.purge(engine, retention_days=1) == 200  # rolled, past retention: gone
    assert service.purge(engine, retention_days=1) == 0
