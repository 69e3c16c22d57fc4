"""Retention of redemptions: `TWINMARK_REDEMPTION_RETENTION_DAYS` after a receipt expired (and after
its last reported use), its owner's and actor's addresses and the signed receipt (which names the
owner) are forgotten. The row stays, without them: the twin has still redeemed the privilege (a later
owner cannot redeem it again), and the brand keeps its counts, uses and double uses."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, update
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.db.periodic import run_every
from registry.privileges.models import Redemption

FORGOTTEN = ""  # what a forgotten owner, actor and receipt read as


def forget_settled(engine: Engine, retention_days: int, *, now: float | None = None, batch: int = 500) -> int:
    """Forgets who redeemed, for redemptions whose receipt expired, and whose last use was reported,
    more than `retention_days` ago; `batch` rows a transaction. The number forgotten."""
    cutoff = int((time.time() if now is None else now) - retention_days * 86_400)
    forgotten = 0
    while True:
        with session_scope(engine) as s:
            ids = list(
                s.exec(
                    select(Redemption.id)
                    .where(
                        col(Redemption.expires_at) < cutoff,
                        col(Redemption.used_at).is_(None) | (col(Redemption.used_at) < cutoff),
                        col(Redemption.owner) != FORGOTTEN,
                    )
                    .limit(batch)
                ).all()
            )
            if not ids:
                return forgotten
            s.connection().execute(
                update(Redemption)
                .where(col(Redemption.id).in_(ids))
                .values(owner=FORGOTTEN, actor=FORGOTTEN, receipt=FORGOTTEN)
            )
        forgotten += len(ids)


def run_retention(engine: Engine, retention_days: int, stop: threading.Event, interval: float = 3600.0) -> None:
    """The redemption retention loop (in every process, like the alerts': forgetting twice is harmless)."""
    what = "privileges: %d settled redemptions past retention forgotten"
    run_every(lambda: forget_settled(engine, retention_days), what, stop, interval)
