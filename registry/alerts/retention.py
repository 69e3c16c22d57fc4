"""Retention of alerts: resolved alerts, with their copies of the triggering scans, are deleted
`TWINMARK_ALERT_RETENTION_DAYS` after resolution (730 by default: the EU's two-year legal guarantee on
consumer goods, when a sale is most often disputed); open alerts are kept whatever their age."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import col, select

from registry.alerts.models import Alert, AlertScan
from registry.db.engine import session_scope
from registry.db.periodic import run_every


def purge_resolved(engine: Engine, retention_days: int, *, now: datetime | None = None, batch: int = 500) -> int:
    """Deletes the alerts resolved more than `retention_days` ago, with their copies of the triggering
    scans, `batch` alerts a transaction (no long lock on a big backlog); open alerts are kept whatever
    their age. The number deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    deleted = 0
    while True:
        with session_scope(engine) as s:
            ids = list(
                s.exec(
                    select(Alert.id)
                    .where(Alert.state == "resolved", col(Alert.resolved_at) < cutoff)
                    .order_by(col(Alert.resolved_at))
                    .limit(batch)
                ).all()
            )
            if not ids:
                return deleted
            s.connection().execute(delete(AlertScan).where(col(AlertScan.alert_id).in_(ids)))
            s.connection().execute(delete(Alert).where(col(Alert.id).in_(ids)))
        deleted += len(ids)


def run_retention(engine: Engine, retention_days: int, stop: threading.Event, interval: float = 3600.0) -> None:
    """The alert retention loop (beside the scan log's, in every process: deleting twice is harmless)."""
    run_every(
        lambda: purge_resolved(engine, retention_days),
        "alerts: %d resolved alerts past retention deleted",
        stop,
        interval,
    )
