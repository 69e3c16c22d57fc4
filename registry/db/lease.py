"""Named leases in the database: one holder at a time across processes (mint worker, indexer,
webhook sender). A holder renews well before expiry; a crashed holder's lease is taken over once
it has expired. Each renewal is also the loop's heartbeat (`beat_at`, and which process beats), so
readiness sees every loop of every process in one table."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, select

from registry.db.engine import session_scope
from registry.db.outage import CHAIN, CONTENT, DATABASE, Outages, dependency
from registry.metrics import record as metrics

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PROCESS = f"{socket.gethostname()}:{os.getpid()}"  # who beats, as readiness shows it
log = logging.getLogger(__name__)


class Lease(SQLModel, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime
    beat_at: datetime | None = None  # the holder's last renewal: its loop's heartbeat
    process: str | None = None  # host:pid of the holder


class LeaseHolder:
    def __init__(self, engine: Engine, name: str, seconds: float) -> None:
        self.engine = engine
        self.name = name
        self.seconds = seconds
        self.holder = str(uuid.uuid4())
        self._until = _EPOCH

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
                    s.add(Lease(name=self.name, holder=self.holder, expires_at=until, beat_at=now, process=PROCESS))
                elif lease.holder == self.holder or lease.expires_at < now:
                    lease.holder, lease.expires_at, lease.beat_at, lease.process = self.holder, until, now, PROCESS
                else:
                    return False
        except IntegrityError:
            return False
        self._until = until
        return True

    def held(self) -> bool:
        """Whether this process held the lease at its last renewal, still unexpired (no database call)."""
        return datetime.now(UTC) < self._until

    def release(self) -> None:
        with session_scope(self.engine) as s:
            lease = s.get(Lease, self.name)
            if lease is not None and lease.holder == self.holder:
                s.delete(lease)
        self._until = _EPOCH


class Held(Protocol):
    """What `run_leased` drives: a `LeaseHolder`, or the mint workers' claims (`registry.jobs.claims`)."""

    name: str
    seconds: float

    def hold(self) -> bool: ...

    def release(self) -> None: ...


def run_leased(
    lease: Held,
    step: Callable[[], object],
    stop: threading.Event,
    *,
    idle: Callable[[], object],
    name: str,
    outages: Outages | None = None,
) -> None:
    """The loop of a background role: hold the lease, run passes, sleep via `idle` when a pass found
    nothing. Anything failing (the database included: a lock held for long, a restart) is retried
    with backoff, so the thread never dies. A dependency that is away (database, chain node, content
    store) is logged once when it goes and once when it is back (`outages`); anything else is a bug
    and keeps its traceback."""
    outages = outages or Outages(name, log)
    failures = 0
    while not stop.is_set():
        try:
            held = lease.hold()
        except Exception as exc:  # the database is away: wait for it, do not die
            failures += 1
            if not outages.failed(exc):
                log.exception("%s cannot take its lease; retrying", name)
            stop.wait(_backoff(failures))
            continue
        if held:
            metrics.heartbeat(lease.name)  # the loop holds its lease and runs a pass: alive
        if not held:  # (a held lease may not have asked the database: only a pass tells it is back)
            outages.reached(DATABASE)
            stop.wait(min(1.0, lease.seconds / 4))
            continue
        try:
            busy = step()
        except Exception as exc:
            if dependency(exc) in (CHAIN, CONTENT):  # the provider's own retries already waited
                outages.failed(exc)
                stop.wait(1.0)
                continue
            failures += 1
            if not outages.failed(exc):
                log.exception("%s pass failed", name)
            stop.wait(_backoff(failures))
            continue
        failures = 0
        outages.reached()
        if not busy:
            idle()
    try:
        lease.release()
    except Exception as exc:  # it expires by itself
        log.warning("%s could not release its lease (%s)", name, type(exc).__name__)


def _backoff(failures: int) -> float:
    """0.5 s doubling up to 5 s: a try costs one connection attempt, and the loop notices a database
    that is back within 5 s."""
    return min(5.0, 0.5 * 2.0 ** min(failures - 1, 4))
