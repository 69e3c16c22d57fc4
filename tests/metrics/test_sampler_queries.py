"""The metrics sampler's database reads stay cheap as the registry grows: the open-jobs gauge, read
every 15 s, searches an index for the few open jobs instead of scanning every job ever submitted."""

from __future__ import annotations

from pathlib import Path

from registry.db.engine import make_engine, migrate
from registry.monitoring.service import open_jobs_query


def test_the_open_jobs_gauge_searches_the_state_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(engine)
    compiled = open_jobs_query().compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all())
    assert "ix_jobs_state" in plan and "SCAN jobs" not in plan, plan
    engine.dispose()
