"""Fixed-window counters in the database, shared by every API process: how many times something
happened per key (a client address, a recipient, an owner, a token) within a window. Domains
declare their limits; this module only counts and refuses.

A limit keyed by client address may also have a ceiling: what all its keys together may count per
window. Addresses are many (and only as good as the proxy in front), so the per-client limit alone
does not bound what the service spends. Ceilings are counted in the process's memory: a database row
that every such request updates would be locked until each request commits, one at a time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from registry.errors import TooManyRequests


class RateCounter(SQLModel, table=True):
    __tablename__ = "rate_counters"

    scope: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    window_started_at: datetime
    count: int = 0


@dataclass(frozen=True)
class Limit:
    scope: str  # e.g. "claim-failures:client"
    limit: int
    window: timedelta
    what: str  # for the message: "wrong claim secrets from this client"
    ceiling: int | None = None  # the most all keys together may count per window (per process)


def _counter(session: Session, limit: Limit, key: str, now: datetime) -> RateCounter:
    query = select(RateCounter).where(RateCounter.scope == limit.scope, RateCounter.key == key).with_for_update()
    counter = session.exec(query).first()
    if counter is None:
        counter = RateCounter(scope=limit.scope, key=key, window_started_at=now, count=0)
        try:
            with session.begin_nested():
                session.add(counter)
        except IntegrityError:  # another process made it first
            counter = session.exec(query).one()
    window_start = counter.window_started_at
    if window_start.tzinfo is None:  # SQLite hands back naive UTC
        window_start = window_start.replace(tzinfo=UTC)
    if now - window_start >= limit.window:
        counter.window_started_at, counter.count = now, 0
    return counter


def _retry_after(counter: RateCounter, limit: Limit, now: datetime) -> int:
    start = counter.window_started_at
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return max(1, int((start + limit.window - now).total_seconds()) + 1)


class _Ceilings:
    """Per-process fixed windows, by database (tests run several services in one process) and scope."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def _window(self, where: str, limit: Limit, now: float) -> tuple[float, int]:
        started, count = self._windows.get((where, limit.scope), (now, 0))
        return (now, 0) if now - started >= limit.window.total_seconds() else (started, count)

    def take(self, where: str, limits: list[Limit], *, count: bool) -> None:
        """TooManyRequests when any ceiling is used up; otherwise counts one under each if `count`."""
        now = time.monotonic()
        with self._lock:
            windows = [self._window(where, limit, now) for limit in limits]
            for limit, (started, used) in zip(limits, windows, strict=True):
                if limit.ceiling is not None and used >= limit.ceiling:
                    wait = max(1, int(started + limit.window.total_seconds() - now) + 1)
                    what = limit.what.removesuffix(" from this client")
                    raise TooManyRequests(
                        f"too many {what} from all clients together; retry in {wait} s", retry_after=wait
                    )
            if count:
                for limit, (started, used) in zip(limits, windows, strict=True):
                    self._windows[(where, limit.scope)] = (started, used + 1)


_ceilings = _Ceilings()


def _capped(session: Session, limits: list[tuple[Limit, str]]) -> tuple[str, list[Limit]]:
    return str(session.get_bind().engine.url), [limit for limit, _ in limits if limit.ceiling is not None]


def check(session: Session, limits: list[tuple[Limit, str]]) -> None:
    """TooManyRequests (with Retry-After) when any (limit, key), or any limit's ceiling, is already used up."""
    now = datetime.now(UTC)
    for limit, key in limits:
        counter = _counter(session, limit, key, now)
        if counter.count >= limit.limit:
            wait = _retry_after(counter, limit, now)
            raise TooManyRequests(f"too many {limit.what}; retry in {wait} s", retry_after=wait)
    where, capped = _capped(session, limits)
    if capped:
        _ceilings.take(where, capped, count=False)


def check_failures(session: Session, limit: Limit, key: str) -> None:
    """`check` for a limit that counts failures: its ceiling refuses only a key that already failed in
    this window, never a first try, so keys that fail on purpose cannot lock out everybody else."""
    now = datetime.now(UTC)
    counter = _counter(session, limit, key, now)
    if counter.count >= limit.limit:
        wait = _retry_after(counter, limit, now)
        raise TooManyRequests(f"too many {limit.what}; retry in {wait} s", retry_after=wait)
    where, capped = _capped(session, [(limit, key)])
    if capped and counter.count > 0:
        _ceilings.take(where, capped, count=False)


def hit(session: Session, limits: list[tuple[Limit, str]]) -> list[int]:
    """Counts one event under every (limit, key) and ceiling, refusing first if any is used up; the uses
    left of each (limit, key)."""
    check(session, limits)
    return count(session, limits)


def count(session: Session, limits: list[tuple[Limit, str]]) -> list[int]:
    """Counts one event that already happened under every (limit, key) and ceiling, refusing nothing
    (callers `check` first); the uses left of each (limit, key)."""
    where, capped = _capped(session, limits)
    if capped:
        _ceilings.take(where, capped, count=True)
    now = datetime.now(UTC)
    left = []
    for limit, key in limits:
        counter = _counter(session, limit, key, now)
        counter.count += 1
        left.append(limit.limit - counter.count)
    return left
