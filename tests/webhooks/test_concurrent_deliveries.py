"""Deliveries go out concurrently: a receiver that hangs holds its own attempt, not the next deliveries
of other subscriptions. The real sender loop against real HTTP receivers on loopback and a real
(SQLite) outbox."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from registry.auth.vault import server_key
from registry.db.engine import make_engine, migrate
from registry.settings import Settings
from registry.webhooks.models import Delivery, DeliveryAttempt, Subscription
from registry.webhooks.sender import WebhookSender
from registry.webhooks.service import seal_secret
from registry.webhooks.signing import new_secret
from tests.webhooks.listeners import Listener

HANG = 5.0  # the slow receiver answers after this long ...
TIMEOUT = 6.0  # ... within the sender's timeout, so its delivery succeeds


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(
        data_dir=tmp_path,
        webhook_allow_private_targets=True,  # receivers on loopback, explicitly
        webhook_timeout_seconds=TIMEOUT,
        webhook_backoff_seconds=0.1,
    )
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    yield settings, engine
    engine.dispose()


@contextmanager
def running(settings: Settings, engine: Engine) -> Iterator[WebhookSender]:
    """The sender's own loop (`run`), in a thread, as the runtime runs it; stopped, and its attempts
    over, on exit."""
    sending = WebhookSender(engine, settings)
    stop = threading.Event()
    thread = threading.Thread(target=sending.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield sending
    finally:
        stop.set()
        thread.join(timeout=10)
        sending.pool.shutdown(wait=True)


def subscribe(engine: Engine, settings: Settings, sub_id: str, url: str) -> None:
    with Session(engine) as s:
        secret = seal_secret(server_key(settings), sub_id, new_secret())
        s.add(Subscription(id=sub_id, url=url, event_types='["minted"]', secret=secret))
        s.commit()


def emit(engine: Engine, sub_id: str, event_id: str) -> None:
    """An outbox row, as the indexer writes one for an event."""
    with Session(engine) as s:
        payload = json.dumps({"id": event_id, "type": "minted"})
        s.add(Delivery(subscription_id=sub_id, event_id=event_id, event_type="minted", payload=payload))
        s.commit()


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def rows(engine: Engine, sub_id: str) -> list[tuple[Delivery, list[DeliveryAttempt]]]:
    with Session(engine) as s:
        out = []
        for d in s.exec(select(Delivery).where(Delivery.subscription_id == sub_id).order_by(Delivery.id)):  # type: ignore[arg-type]
            out.append((d, list(s.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == d.id)))))
        return out


def event_ids(listener: Listener) -> list[str]:
    return [r["headers"]["Twinmark-Event-Id"] for r in listener.seen.requests]


def test_a_hanging_receiver_does_not_hold_back_another_subscriptions_deliveries(
    outbox: tuple[Settings, Engine],
) -> None:
    settings, engine = outbox
    slow, fast = Listener(delay=HANG), Listener()
    with running(settings, engine) as sender:
        subscribe(engine, settings, "sub-slow", slow.url(path="/slow"))
        subscribe(engine, settings, "sub-fast", fast.url(path="/fast"))
        emit(engine, "sub-slow", "evt_slow_1")
        emit(engine, "sub-fast", "evt_fast_1")
        wait_for(lambda: len(slow.seen.requests) == 1 and len(fast.seen.requests) == 1)

        # Emitted after the slow delivery began, while its receiver still hangs:
        emit(engine, "sub-fast", "evt_fast_2")
        emit(engine, "sub-fast", "evt_fast_3")
        wait_for(lambda: len(fast.seen.requests) == 3)
        # Each recorded as it finished (the receiver sees the request a moment before the sender
        # records the answer: wait for the record, not merely the request) ...
        wait_for(lambda: [d.state for d, _ in rows(engine, "sub-fast")] == ["delivered"] * 3)
        assert slow.seen.answered == []  # ... all before the slow receiver answered
        assert fast.seen.requests[2]["at"] < slow.seen.requests[0]["at"] + HANG
        slow_row, slow_attempts = rows(engine, "sub-slow")[0]
        assert slow_row.state == "pending" and slow_attempts == [] and sender.in_flight() == 1

        # The slow attempt is recorded once it is over; in the meantime its row, due all along, was
        # never picked again by the passes that ran.
        wait_for(lambda: rows(engine, "sub-slow")[0][0].state != "pending")
        slow_row, slow_attempts = rows(engine, "sub-slow")[0]
        assert slow_row.state == "delivered" and slow_row.attempts == 1
        assert [a.status_code for a in slow_attempts] == [204]
        assert event_ids(slow) == ["evt_slow_1"] and len(slow.seen.answered) == 1
        assert sorted(event_ids(fast)) == ["evt_fast_1", "evt_fast_2", "evt_fast_3"]  # each sent once
        assert all(d.attempts == 1 and len(a) == 1 for d, a in rows(engine, "sub-fast"))
        wait_for(lambda: sender.in_flight() == 0)
    slow.close()
    fast.close()


def test_a_timed_out_attempt_is_recorded_and_retried_while_others_go_out(outbox: tuple[Settings, Engine]) -> None:
    """An attempt that times out is recorded as such and retried with backoff, as before; the other
    subscription's deliveries go out meanwhile; every request sent is one recorded attempt."""
    settings, engine = outbox
    impatient = settings.model_copy(update={"webhook_timeout_seconds": 1.0})
    hanging, fast = Listener(delay=2.0), Listener()
    subscribe(engine, settings, "sub-hang", hanging.url(path="/hang"))
    subscribe(engine, settings, "sub-fast", fast.url(path="/fast"))
    with running(impatient, engine):
        emit(engine, "sub-hang", "evt_hang")
        emit(engine, "sub-fast", "evt_fast_1")
        wait_for(lambda: len(hanging.seen.requests) >= 2)  # timed out, then tried again
        emit(engine, "sub-fast", "evt_fast_2")
        wait_for(lambda: len(fast.seen.requests) == 2)
        (row, attempts), *_ = rows(engine, "sub-hang")
        assert row.state == "pending" and row.attempts >= 1 and row.last_error == "timeout"
        assert attempts[0].error == "timeout" and attempts[0].status_code is None
    # Stopped, with every attempt over: each request the receiver got is one recorded attempt.
    (row, attempts), *_ = rows(engine, "sub-hang")
    assert len(hanging.seen.requests) == row.attempts == len(attempts)
    assert event_ids(hanging) == ["evt_hang"] * row.attempts
    assert event_ids(fast) == ["evt_fast_1", "evt_fast_2"]
    assert all(d.state == "delivered" for d, _ in rows(engine, "sub-fast"))
    hanging.close()
    fast.close()
