"""The outbox sender: signed POSTs with retries (exponential backoff, jitter) and a log of every attempt."""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.db.lease import LeaseHolder, run_leased
from registry.settings import Settings
from registry.webhooks.models import Delivery, DeliveryAttempt, Subscription
from registry.webhooks.signing import signed_headers

log = logging.getLogger(__name__)


class WebhookSender:
    """Sends due outbox rows, at least once: a row leaves `pending` only after a 2xx answer."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.lease = LeaseHolder(engine, "webhook-sender", settings.worker_lease_seconds)
        self.http = httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook")

    def run(self, stop: threading.Event) -> None:
        run_leased(self.lease, self.step, stop, idle=lambda: stop.wait(0.5), name="webhook sender")

    def step(self) -> int:
        now = datetime.now(UTC)
        with session_scope(self.engine) as s:
            due = s.exec(
                select(Delivery, Subscription)
                .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
                .where(col(Delivery.state) == "pending", col(Delivery.next_attempt_at) <= now)
                .order_by(col(Delivery.id))
                .limit(64)
            ).all()
        results = list(self.pool.map(lambda pair: (pair[0].id, self._attempt(*pair)), due))
        with session_scope(self.engine) as s:
            for delivery_id, (status, error, ms) in results:
                delivery = s.get(Delivery, delivery_id)
                assert delivery is not None and delivery.id is not None
                s.add(DeliveryAttempt(delivery_id=delivery.id, status_code=status, error=error, duration_ms=ms))
                delivery.attempts += 1
                if status is not None and 200 <= status < 300:
                    delivery.state, delivery.delivered_at, delivery.last_error = "delivered", datetime.now(UTC), None
                elif delivery.attempts >= self.settings.webhook_max_attempts:
                    delivery.state, delivery.last_error = "dead", error or f"HTTP {status}"
                else:
                    delay = self.settings.webhook_backoff_seconds * 2 ** (delivery.attempts - 1)
                    delay = min(delay, 3600.0) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not a secret
                    delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
                    delivery.last_error = error or f"HTTP {status}"
        return len(results)

    def _attempt(self, delivery: Delivery, sub: Subscription) -> tuple[int | None, str | None, int]:
        body = delivery.payload.encode()
        timestamp = str(int(time.time()))
        headers = signed_headers(sub.secret, delivery.event_id, delivery.event_type, timestamp, body)
        started = time.monotonic()
        try:
            response = self.http.post(sub.url, content=body, headers=headers)
            return response.status_code, None, int((time.monotonic() - started) * 1000)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500], int((time.monotonic() - started) * 1000)
