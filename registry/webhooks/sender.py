"""The outbox sender: signed POSTs with retries (exponential backoff, jitter) and a log of every attempt.

Every attempt goes through `registry.net`: the URL is checked again (the subscription may predate
the rule, or its name may resolve elsewhere now) and the POST goes to the address checked. The log
keeps the HTTP status or a coarse class (`timeout`, `refused`, `tls`, `network`, `blocked`), never an
exception's text, so it cannot be read as a scan of the service's network."""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, delete
from sqlmodel import col, select

from registry.auth.vault import server_key
from registry.db.engine import session_scope
from registry.db.lease import LeaseHolder, run_leased
from registry.net.client import GuardedClient, failure_class
from registry.net.guard import HostUnresolvable, TargetRefused
from registry.settings import Settings
from registry.webhooks.models import Delivery, DeliveryAttempt, Subscription
from registry.webhooks.service import open_secret
from registry.webhooks.signing import signed_headers

log = logging.getLogger(__name__)
BLOCKED = "blocked"  # the target is not allowed (registry.net): logged, never sent


class WebhookSender:
    """Sends due outbox rows, at least once: a row leaves `pending` only after a 2xx answer."""

    def __init__(self, engine: Engine, settings: Settings, *, client: GuardedClient | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.lease = LeaseHolder(engine, "webhook-sender", settings.worker_lease_seconds)
        self.http = client or GuardedClient(
            timeout=settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private_targets
        )
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook")
        self.server_key = server_key(settings)
        self._pruned_at = float("-inf")

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
                .limit(256)
            ).all()
        # A few deliveries per subscription per pass: a slow or dead receiver with a long backlog takes
        # at most its share of the sender threads, and the others' deliveries go out beside it.
        taken: dict[str, int] = {}
        picked = []
        for row, sub in due:
            if taken.get(sub.id, 0) < self.settings.webhook_max_in_flight_per_subscription:
                taken[sub.id] = taken.get(sub.id, 0) + 1
                picked.append((row, sub))
        results = list(self.pool.map(lambda pair: (pair[0].id, self._attempt(*pair)), picked[:64]))
        self._prune()
        with session_scope(self.engine) as s:
            for delivery_id, (status, error, ms) in results:
                delivery = s.get(Delivery, delivery_id)
                assert delivery is not None and delivery.id is not None
                s.add(DeliveryAttempt(delivery_id=delivery.id, status_code=status, error=error, duration_ms=ms))
                delivery.attempts += 1
                if status is not None and 200 <= status < 300:
                    delivery.state, delivery.delivered_at, delivery.last_error = "delivered", datetime.now(UTC), None
                elif error == BLOCKED:
                    # Not retried: the same URL is refused the same way at every attempt, and a name
                    # that might resolve elsewhere later is in the hands of whoever controls its DNS.
                    # Dead at once; a redelivery checks again (say, after the operator allowed
                    # private targets).
                    delivery.state, delivery.last_error = "dead", BLOCKED
                elif delivery.attempts >= self.settings.webhook_max_attempts:
                    delivery.state, delivery.last_error = "dead", error or f"HTTP {status}"
                else:
                    delay = self.settings.webhook_backoff_seconds * 2 ** (delivery.attempts - 1)
                    delay = min(delay, 3600.0) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not a secret
                    delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
                    delivery.last_error = error or f"HTTP {status}"
        return len(results)

    def _prune(self) -> None:
        """Retention: delivered and dead outbox rows older than `delivery_retention_days`, with their
        attempt log, are deleted (at most once a minute, a bounded number per pass)."""
        now = time.monotonic()
        if now - self._pruned_at < 60:
            return
        self._pruned_at = now
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.delivery_retention_days)
        with session_scope(self.engine) as s:
            old = s.exec(
                select(Delivery.id)
                .where(col(Delivery.state).in_(["delivered", "dead", "cancelled"]), col(Delivery.created_at) < cutoff)
                .limit(5_000)
            ).all()
            if old:
                s.execute(delete(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(old)))
                s.execute(delete(Delivery).where(col(Delivery.id).in_(old)))
                log.info("pruned %s old deliveries", len(old))

    def _attempt(self, delivery: Delivery, sub: Subscription) -> tuple[int | None, str | None, int]:
        body = delivery.payload.encode()
        timestamp = str(int(time.time()))
        headers = signed_headers(
            open_secret(self.server_key, sub), delivery.event_id, delivery.event_type, timestamp, body
        )
        started = time.monotonic()
        try:
            response = self.http.post(sub.url, content=body, headers=headers)
            return response.status_code, None, int((time.monotonic() - started) * 1000)
        except TargetRefused:
            return None, BLOCKED, 0  # nothing was sent, and no timing tells how the name resolved
        except (HostUnresolvable, httpx.HTTPError, OSError) as exc:
            return None, failure_class(exc), int((time.monotonic() - started) * 1000)
