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
from registry.db.outage import Outages
from registry.metrics import record as metrics
from registry.net.client import GuardedClient, failure_class
from registry.net.guard import HostUnresolvable, TargetRefused
from registry.settings import Settings
from registry.webhooks.models import Delivery, DeliveryAttempt, Subscription
from registry.webhooks.service import open_secret
from registry.webhooks.signing import signed_headers

log = logging.getLogger(__name__)
BLOCKED = "blocked"  # the target is not allowed (registry.net): logged, never sent


class WebhookSender:
    """Sends due outbox rows, at least once: a row leaves `pending` only after a 2xx answer.

    Attempts run on a pool of `THREADS` and each records its result as soon as it is over (its own
    short transaction); a pass only hands new due rows to free threads, so a receiver that takes the
    whole timeout holds its own attempts, never the other subscriptions' next deliveries. A row in
    flight is not picked again, a subscription has at most `webhook_max_in_flight_per_subscription`
    attempts in flight, and all of them together at most `THREADS`."""

    THREADS = 8

    def __init__(self, engine: Engine, settings: Settings, *, client: GuardedClient | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.lease = LeaseHolder(engine, "webhook-sender", settings.worker_lease_seconds)
        self.outages = Outages("webhook sender", log)  # the loop's and the delivery threads' alike
        self.http = client or GuardedClient(
            timeout=settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private_targets
        )
        self.pool = ThreadPoolExecutor(max_workers=self.THREADS, thread_name_prefix="webhook")
        self.server_key = server_key(settings)
        self._pruned_at = float("-inf")
        self._lock = threading.Lock()
        self._in_flight: dict[int, str] = {}  # delivery id -> subscription id, while its attempt runs
        self._finished = threading.Event()  # an attempt is over: a thread is free for the next pass

    def run(self, stop: threading.Event) -> None:
        run_leased(
            self.lease,
            self.step,
            stop,
            idle=lambda: self._finished.wait(0.5),
            name="webhook sender",
            outages=self.outages,
        )

    def wake(self) -> None:
        """Ends the idle wait now (the runtime stopping: no half-second pause per stop)."""
        self._finished.set()

    def in_flight(self) -> int:
        """Attempts running now."""
        with self._lock:
            return len(self._in_flight)

    def step(self) -> int:
        """One pass: hands the due rows that fit (per subscription and overall) to free threads, without
        waiting for them; returns how many attempts it started."""
        self._finished.clear()
        with self._lock:
            busy = dict(self._in_flight)
        free = self.THREADS - len(busy)
        started = 0
        if free > 0:
            now = datetime.now(UTC)
            query = (
                select(Delivery, Subscription)
                .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
                .where(col(Delivery.state) == "pending", col(Delivery.next_attempt_at) <= now)
                .order_by(col(Delivery.id))
                .limit(256)
            )
            if busy:
                query = query.where(col(Delivery.id).not_in(list(busy)))
            with session_scope(self.engine) as s:
                due = s.exec(query).all()
            # A few deliveries per subscription at a time: a slow or dead receiver with a long backlog
            # takes at most its share of the sender threads, and the others' deliveries go out beside it.
            taken: dict[str, int] = {}
            for sub_id in busy.values():
                taken[sub_id] = taken.get(sub_id, 0) + 1
            for row, sub in due:
                if started == free:
                    break
                if taken.get(sub.id, 0) >= self.settings.webhook_max_in_flight_per_subscription:
                    continue
                assert row.id is not None
                taken[sub.id] = taken.get(sub.id, 0) + 1
                with self._lock:
                    self._in_flight[row.id] = sub.id
                self.pool.submit(self._deliver, row, sub)
                started += 1
        self._prune()
        return started

    def _deliver(self, row: Delivery, sub: Subscription) -> None:
        """One attempt and its record. Should recording fail (the database away), the row stays due and
        is sent again later: at least once."""
        assert row.id is not None
        try:
            self._record(row.id, *self._attempt(row, sub))
        except Exception as exc:
            if not self.outages.failed(exc):  # the database away: one line for the outage, not one per attempt
                log.exception("webhook delivery %s: the attempt could not be recorded; it will be sent again", row.id)
        finally:
            # Only after its record committed: until then no pass may pick the row again.
            with self._lock:
                self._in_flight.pop(row.id, None)
            self._finished.set()

    def _record(self, delivery_id: int, status: int | None, error: str | None, ms: int) -> None:
        with session_scope(self.engine) as s:
            delivery = s.get(Delivery, delivery_id)
            if delivery is None:
                return  # pruned meanwhile (only done with rows no longer pending)
            s.add(DeliveryAttempt(delivery_id=delivery_id, status_code=status, error=error, duration_ms=ms))
            delivery.attempts += 1
            outcome = "failed"
            if status is not None and 200 <= status < 300:
                delivery.state, delivery.delivered_at, delivery.last_error = "delivered", datetime.now(UTC), None
                outcome = "delivered"
            elif delivery.state != "pending":
                pass  # cancelled (its event left the chain) while the attempt ran: it stays so
            elif error == BLOCKED:
                # Not retried: the same URL is refused the same way at every attempt, and a name
                # that might resolve elsewhere later is in the hands of whoever controls its DNS.
                # Dead at once; a redelivery checks again (say, after the operator allowed
                # private targets).
                delivery.state, delivery.last_error = "dead", BLOCKED
            elif delivery.attempts >= self.settings.webhook_max_attempts:
                delivery.state, delivery.last_error = "dead", error or f"HTTP {status}"
                outcome = "gave_up"
            else:
                delay = self.settings.webhook_backoff_seconds * 2 ** (delivery.attempts - 1)
                delay = min(delay, 3600.0) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not a secret
                delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
                delivery.last_error = error or f"HTTP {status}"
        metrics.webhook("gave_up" if error == BLOCKED else outcome, ms / 1000)

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
