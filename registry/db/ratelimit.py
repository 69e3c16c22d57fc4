"""Fixed-window counters in the database, shared by every API process: how many times something
happened per key (a client address, a recipient, an owner, a token) within a window. Domains
declare their limits; this module only counts and refuses."""

from __future__ import annotations

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


def check(session: Session, limits: list[tuple[Limit, str]]) -> None:
    """TooManyRequests (with Retry-After) when any (limit, key) is already used up."""
    now = datetime.now(UTC)
    for limit, key in limits:
        counter = _counter(session, limit, key, now)
        if counter.count >= limit.limit:
            wait = _retry_after(counter, limit, now)
            raise TooManyRequests(f"too many {limit.what}; retry in {wait} s", retry_after=wait)


def hit(session: Session, limits: list[tuple[Limit, str]]) -> list[int]:
    """Counts one event under every (limit, key), refusing first if any is used up; the uses left of each."""
    check(session, limits)
    now = datetime.now(UTC)
    left = []
    for limit, key in limits:
        counter = _counter(session, limit, key, now)
        counter.count += 1
        left.append(limit.limit - counter.count)
    return left
