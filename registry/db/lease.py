"""Named leases in the database: one holder at a time across processes (mint worker, indexer,
webhook sender). A holder renews well before expiry; a crashed holder's lease is taken over once
it has expired."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, select

from registry.db.engine import session_scope
from registry.errors import ChainUnavailable, ContentUnavailable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)


class Lease(SQLModel, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime


class LeaseHolder:
    def __init__(self, engine: Engine, name: str, seconds: float) -> None:
        self.engine = engine
        self.name = name
        self.seconds = seconds
        self.holder = str(uuid.uuid4())
        self._until = _EPOCH
        self.beat = time.monotonic()  # the loop's last sign of life (readiness reports it)

    def hold(self) -> bool:
        """True while this process holds the lease (acquiring or renewing it as needed)."""
        now = datetime.now(UTC)
        if now < self._until - timedelta(seconds=self.seconds / 2):
            return True
        until = now + timedelta(seconds=self.seconds)
        try:
            with session_scope(self.engine) as s:
                lease = s.exec(select(Lease).where(Lease.name == self.name).with_for_update()).first()
                if lease is None:
                    s.add(Lease(name=self.name, holder=self.holder, expires_at=until))
                elif lease.holder == self.holder or lease.expires_at < now:
                    lease.holder, lease.expires_at = self.holder, until
                else:
                    return False
        except IntegrityError:
            return False
        self._until = until
        return True

    def release(self) -> None:
        with session_scope(self.engine) as s:
            lease = s.get(Lease, self.name)
            if lease is not None and lease.holder == self.holder:
                s.delete(lease)
        self._until = _EPOCH


def run_leased(
    lease: LeaseHolder,
    step: Callable[[], object],
    stop: threading.Event,
    *,
    idle: Callable[[], object],
    name: str,
) -> None:
    """The loop of a background role: hold the lease, run passes, sleep via `idle` when a pass found
    nothing. Anything failing (the database included: a lock held for long, a restart) is logged and
    retried with backoff, so the thread never dies."""
    failures = 0
    while not stop.is_set():
        lease.beat = time.monotonic()
        try:
            held = lease.hold()
        except Exception as exc:  # the database is away: wait for it, do not die
            failures += 1
            log.warning("%s cannot reach its lease (%s); retrying", name, type(exc).__name__)
            stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
            continue
        if not held:
            stop.wait(min(1.0, lease.seconds / 4))
            continue
        try:
            busy = step()
        except (ChainUnavailable, ContentUnavailable) as exc:
            log.warning("%s waiting: %s", name, exc)
            stop.wait(1.0)
            continue
        except Exception:
            failures += 1
            log.exception("%s pass failed", name)
            stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
            continue
        failures = 0
        lease.beat = time.monotonic()
        if not busy:
            idle()
    try:
        lease.release()
    except Exception as exc:  # it expires by itself
        log.warning("%s could not release its lease (%s)", name, type(exc).__name__)
