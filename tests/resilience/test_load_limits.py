"""Load limits: a slow receiver with a backlog takes only its share of the webhook sender; old
deliveries are pruned; event streams are capped per client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import Session, select

from api.main import create_app
from registry.webhooks.models import Delivery, DeliveryAttempt, Subscription
from registry.webhooks.sender import WebhookSender
from registry.webhooks.service import seal_secret
from registry.webhooks.signing import new_secret
from tests.api.conftest import Stack, fresh_stack
from tests.support.server import serve
from tests.webhooks.listeners import Listener


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path_factory.mktemp("load"),
        indexer_in_process=False,  # the tests drive the webhook sender
        webhook_allow_private_targets=True,  # receivers on loopback, explicitly
        webhook_timeout_seconds=5.0,
        stream_max_per_client=2,
    ) as running:
        yield running


def subscribe(session: Session, stack: Stack, url: str, events: int, *, age: timedelta | None = None) -> str:
    sub_id = f"sub-{url.rsplit('/', 1)[-1]}"
    session.add(
        Subscription(
            id=sub_id,
            url=url,
            event_types='["minted"]',
            secret=seal_secret(stack.runtime.server_key, sub_id, new_secret()),
        )
    )
    session.flush()
    created = datetime.now(UTC) - (age or timedelta())
    for i in range(events):
        payload = json.dumps({"id": f"evt_{sub_id}_{i}", "type": "minted"})
        session.add(
            Delivery(
                subscription_id=sub_id,
                event_id=f"evt_{sub_id}_{i}",
                event_type="minted",
                payload=payload,
                created_at=created,
            )
        )
    session.commit()
    return sub_id


def test_a_slow_receiver_with_a_backlog_does_not_hold_back_the_others(stack: Stack) -> None:
    slow, fast = Listener(delay=2.0), Listener()
    with Session(stack.runtime.engine) as s:
        subscribe(s, stack, slow.url(path="/slow"), 40)
        subscribe(s, stack, fast.url(path="/fast"), 1)
    share = stack.runtime.settings.webhook_max_in_flight_per_subscription
    sender = WebhookSender(stack.runtime.engine, stack.runtime.settings)
    sender.lease.hold()
    assert sender.step() == share + 1  # one pass: the fast receiver's event beside the slow one's share
    deadline = time.monotonic() + 10
    while (len(fast.seen.requests), len(slow.seen.requests)) != (1, share) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fast.seen.requests) == 1 and len(slow.seen.requests) == share
    # Passes that run while the slow receiver's attempts hang start none of its backlog: its share is
    # in flight (and the pass itself does not wait for them).
    for _ in range(5):
        assert sender.step() == 0
    assert slow.seen.answered == [] and len(slow.seen.requests) == share
    while sender.in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    slow.close()
    fast.close()


def test_old_deliveries_and_their_log_are_pruned(stack: Stack) -> None:
    with Session(stack.runtime.engine) as s:
        old = subscribe(s, stack, "http://127.0.0.1:9/old", 3, age=timedelta(days=45))
        recent = subscribe(s, stack, "http://127.0.0.1:9/recent", 2)
        for d in s.exec(select(Delivery).where(Delivery.subscription_id.in_([old, recent]))):  # type: ignore[attr-defined]
            d.state = "delivered"
            s.add(DeliveryAttempt(delivery_id=d.id, status_code=204, duration_ms=3))
        s.commit()
    sender = WebhookSender(stack.runtime.engine, stack.runtime.settings)
    sender._prune()
    with Session(stack.runtime.engine) as s:
        assert s.exec(select(Delivery).where(Delivery.subscription_id == old)).all() == []
        assert len(s.exec(select(Delivery).where(Delivery.subscription_id == recent)).all()) == 2
        ids = [d.id for d in s.exec(select(Delivery).where(Delivery.subscription_id == recent))]
        assert len(s.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids))).all()) == 2  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def served(stack: Stack) -> Iterator[str]:
    with serve(create_app(runtime=stack.runtime)) as url:
        yield url


def test_event_streams_are_capped_per_client(served: str) -> None:
    url = f"{served}/v1/events/stream"
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", url) as first, client.stream("GET", url) as second:
            assert first.status_code == second.status_code == 200
            third = client.get(url)
            assert third.status_code == 429 and "Retry-After" in third.headers
        time.sleep(0.7)  # the server notices the closed streams at its next poll
        with client.stream("GET", url) as again:
            assert again.status_code == 200
