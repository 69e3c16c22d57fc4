"""Retention of alerts (SQLite and PostgreSQL): resolved alerts older than the setting go with their
copies of the triggering scans; recent resolved ones, open ones of any age and the other alerts' scan
copies stay."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from registry.alerts.models import Alert, AlertScan
from registry.alerts.retention import purge_resolved, run_retention
from registry.db.engine import session_scope
from registry.settings import Settings
from tests.alerts.conftest import A_COLLECTION, B_COLLECTION, TOKEN

NOW = datetime.now(UTC)


def alert(engine: Engine, rule: str, *, resolved_days_ago: float | None, brand: str = "brand-a") -> int:
    """An alert raised a long time ago with two linked scans; resolved that many days ago, or open."""
    collection = A_COLLECTION if brand == "brand-a" else B_COLLECTION
    raised = NOW - timedelta(days=1_000)
    with session_scope(engine) as s:
        row = Alert(
            brand_id=brand,
            rule=rule,
            subject=f"{collection}:{TOKEN}",
            collection=collection,
            token_id=TOKEN,
            facts="{}",
            raised_at=raised,
            state="open" if resolved_days_ago is None else "resolved",
            resolved_at=None if resolved_days_ago is None else NOW - timedelta(days=resolved_days_ago),
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        for scan_id in (row.id * 10, row.id * 10 + 1):
            s.add(AlertScan(alert_id=row.id, scan_id=scan_id, at=raised, scan=json.dumps({"id": scan_id})))
        return row.id


def left(engine: Engine) -> tuple[set[int], set[int]]:
    with session_scope(engine) as s:
        alerts = {a for a in s.exec(select(Alert.id)) if a is not None}
        linked = set(s.exec(select(AlertScan.alert_id).order_by(col(AlertScan.alert_id))))
    return alerts, linked


def test_resolved_alerts_past_retention_go_with_their_scans(db: Engine) -> None:
    old = [alert(db, "session-count", resolved_days_ago=800 + i) for i in range(5)]
    old.append(alert(db, "stolen", resolved_days_ago=731, brand="brand-b"))
    recent = alert(db, "anomaly", resolved_days_ago=700)  # within the two years
    still_open = alert(db, "copied-label", resolved_days_ago=None)  # raised 1,000 days ago, never resolved
    assert Settings().alert_retention_days == 730
    assert purge_resolved(db, 730, now=NOW, batch=2) == 6  # several batches
    alerts, linked = left(db)
    assert alerts == linked == {recent, still_open}
    assert purge_resolved(db, 730, now=NOW) == 0  # nothing more; running twice is harmless
    assert purge_resolved(db, 30, now=NOW) == 1  # a shorter setting: the recent one goes too
    assert left(db) == ({still_open}, {still_open})


def test_the_loop_purges_then_waits(db: Engine) -> None:
    gone = alert(db, "session-count", resolved_days_ago=900)
    stop = threading.Event()
    loop = threading.Thread(target=run_retention, args=(db, 730, stop, 0.05))
    loop.start()
    try:
        for _ in range(200):
            if gone not in left(db)[0]:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        loop.join(5)
    assert gone not in left(db)[0] and not loop.is_alive()
