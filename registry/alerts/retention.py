"""Retention of alerts: resolved alerts, with their copies of the triggering scans, are deleted
`TWINMARK_ALERT_RETENTION_DAYS` after resolution (730 by default: the EU's two-year legal guarantee on
consumer goods, when a sale is most often disputed); open alerts are kept whatever their age."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from registry.alerts.models import Alert, AlertScan
from registry.db.periodic import in_batches, run_every


def purge_resolved(engine: Engine, retention_days: int, *, now: datetime | None = None, batch: int = 500) -> int:
    """Deletes the alerts resolved more than `retention_days` ago, with their copies of the triggering
    scans, `batch` alerts a transaction (no long lock on a big backlog); open alerts are kept whatever
    their age. The number deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    resolved = (
        select(Alert.id)
        .where(Alert.state == "resolved", col(Alert.resolved_at) < cutoff)
        .order_by(col(Alert.resolved_at))
    )

    def delete_with_scans(s: Session, ids: Sequence[int]) -> None:
        s.execute(delete(AlertScan).where(col(AlertScan.alert_id).in_(ids)))
        s.execute(delete(Alert).where(col(Alert.id).in_(ids)))

    return in_batches(engine, resolved, delete_with_scans, batch)


def run_retention(engine: Engine, retention_days: int, stop: threading.Event, interval: float = 3600.0) -> None:
    """The alert retention loop (beside the scan log's, in every process: deleting twice is harmless)."""
    run_every(
        lambda: purge_resolved(engine, retention_days),
        "alerts: %d resolved alerts past retention deleted",
        stop,
        interval,
    )
