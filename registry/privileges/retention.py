"""Retention of redemptions: `TWINMARK_REDEMPTION_RETENTION_DAYS` after a receipt expired (and after
its last reported use), its owner's and actor's addresses and the signed receipt (which names the
owner) are forgotten. The row stays, without them: the twin has still redeemed the privilege (a later
owner cannot redeem it again), and the brand keeps its counts, uses and double uses."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, update
from sqlmodel import col, select

from registry.db.periodic import in_batches, run_every
from registry.privileges.models import Redemption

FORGOTTEN = ""  # what a forgotten owner, actor and receipt read as


def forget_settled(engine: Engine, retention_days: int, *, now: float | None = None, batch: int = 500) -> int:
    """Forgets who redeemed, for redemptions whose receipt expired, and whose last use was reported,
    more than `retention_days` ago; `batch` rows a transaction. The number forgotten."""
    cutoff = int((time.time() if now is None else now) - retention_days * 86_400)
    settled = select(Redemption.id).where(
        col(Redemption.expires_at) < cutoff,
        col(Redemption.used_at).is_(None) | (col(Redemption.used_at) < cutoff),
        col(Redemption.owner) != FORGOTTEN,
    )
    forget = update(Redemption).values(owner=FORGOTTEN, actor=FORGOTTEN, receipt=FORGOTTEN)
    return in_batches(engine, settled, lambda s, ids: s.execute(forget.where(col(Redemption.id).in_(ids))), batch)


def run_retention(engine: Engine, retention_days: int, stop: threading.Event, interval: float = 3600.0) -> None:
    """The redemption retention loop (in every process, like the alerts': forgetting twice is harmless)."""
    what = "privileges: %d settled redemptions past retention forgotten"
    run_every(lambda: forget_settled(engine, retention_days), what, stop, interval)
