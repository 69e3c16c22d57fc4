"""The pinner: a leased background loop that keeps every registered content pinned on every configured
provider. Each `pins` row says when to look at it again (`next_at`): a request to make (or make again,
with backoff after failures, never sooner than a 429's or 503's `Retry-After`), a queued or pinning
request to poll, a pinned one to reconcile (GET /pins?cid=...: a pin the provider lost, or one it
failed, is requested again). Network calls run outside database transactions; a row is written only
after its answer, so nothing is lost when a provider is away or answers nonsense."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.db.lease import LeaseHolder, run_leased
from registry.errors import TwinmarkError
from registry.net.client import GuardedClient
from registry.pinning.client import PinServiceError, PsaClient
from registry.pinning.models import Pin, PinContent, PinState
from registry.pinning.schemas import PinStatus
from registry.pinning.service import PinCounters, public_origins
from registry.settings import Settings

log = logging.getLogger(__name__)
LEASE = "pinner"
BATCH = 100  # rows looked at per pass


class Pinner:
    def __init__(self, engine: Engine, settings: Settings, *, discover: Callable[[], list[str]] | None = None) -> None:
        """`discover`: the content node's own multiaddrs (a Kubo node's `/id`), asked once when the
        loop starts and sent as `origins` unless `pin_origins` names them."""
        self.engine = engine
        self.settings = settings
        self.lease = LeaseHolder(engine, LEASE, settings.worker_lease_seconds)
        self.counters = PinCounters()
        self.http = GuardedClient(
            timeout=settings.pin_timeout_seconds, allow_private=settings.pin_allow_private_endpoints
        )
        timeout = settings.pin_timeout_seconds
        self.clients = {p.name: PsaClient(p, self.http, timeout=timeout) for p in settings.pin_providers}
        self.origins = [o.strip() for o in settings.pin_origins.split(",") if o.strip()]
        self._discover = None if self.origins else discover
        self._failing: set[str] = set()  # providers whose last call failed: logged once each way
        self._paused: dict[str, datetime] = {}  # providers not asked again before then
        self._filled: datetime | None = None  # the last pass that filled rows for every content
        self._wake = threading.Event()

    # ------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        if self._discover is not None:
            try:
                self.origins = public_origins(self._discover())
            except TwinmarkError as exc:  # the node is away: pins go without origins (the network finds it)
                log.warning("pinning: the content node's addresses are unknown (%s)", exc.detail)
            self._discover = None
        run_leased(self.lease, self.step, stop, idle=self._idle, name="pinner")

    def _idle(self) -> None:
        if self._wake.wait(min(1.0, self.settings.pin_poll_seconds)):
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def step(self) -> bool:
        """One pass: rows for new contents, then the rows that are due on providers not paused; True
        when any was tried."""
        self._fill()
        now = datetime.now(UTC)
        active = [name for name in self.clients if self._paused.get(name, now) <= now]
        if not active:
            return False
        with session_scope(self.engine) as s:
            due = s.exec(
                select(Pin)
                .where(col(Pin.next_at) <= now, col(Pin.provider).in_(active))
                .order_by(col(Pin.next_at))
                .limit(BATCH)
            ).all()
            s.expunge_all()
        tried = False
        for pin in due:
            if pin.provider in self._paused and self._paused[pin.provider] > now:
                continue
            tried = True
            try:
                changes = self._tend(pin)
            except PinServiceError as exc:
                self.counters.count(pin.provider, f"failed:{exc.kind}")
                self._report(pin.provider, exc)
                changes = self._failure(pin, exc)
                # Away, overloaded or refusing us (a wrong token): one probe per backoff (or Retry-After),
                # not a request per waiting content.
                self._paused[pin.provider] = changes["next_at"]  # type: ignore[assignment]
            else:
                self._report(pin.provider, None)
            self._write(pin, changes)
        return tried

    def _fill(self) -> None:
        """A `pending` row on each provider for every content it has none for: the contents registered
        since the last complete fill on each pass, all of them at start and once per reconciliation
        period (a provider added to the configuration gets everything registered before it)."""
        now = datetime.now(UTC)
        full = self._filled is None or now - self._filled > timedelta(seconds=self.settings.pin_reconcile_seconds)
        complete = True
        with session_scope(self.engine) as s:
            for name in self.clients:
                held = select(Pin.cid).where(Pin.provider == name, Pin.cid == PinContent.cid)
                query = select(PinContent.cid).where(~held.exists())
                if not full and self._filled is not None:
                    # A content's row may commit a while after its `created_at` (the worker's transaction).
                    query = query.where(col(PinContent.created_at) >= self._filled - timedelta(seconds=60))
                missing = s.exec(query.limit(1000)).all()
                complete = complete and len(missing) < 1000
                for cid in missing:
                    s.add(Pin(cid=cid, provider=name))
        if full and complete:
            self._filled = now

    # ------------------------------------------------------------ one row

    def _tend(self, pin: Pin) -> dict[str, object]:
        client = self.clients[pin.provider]
        if pin.state in (PinState.queued, PinState.pinning) and pin.request_id:
            status = client.get(pin.request_id)
            return self._lost(pin) if status is None else self._status(pin, status)
        if pin.state == PinState.pinned:
            found = client.find(pin.cid)
            held = [s for s in found if s.status == PinState.pinned] or [
                s for s in found if s.status in (PinState.queued, PinState.pinning)
            ]
            return self._lost(pin) if not held else self._status(pin, held[0])
        # pending, or failed at the provider: (re)request it
        status = client.add(pin.cid, name=f"twinmark {pin.cid}", origins=self.origins)
        self.counters.count(pin.provider, "requested")
        return self._status(pin, status)

    def _status(self, pin: Pin, status: PinStatus) -> dict[str, object]:
        now = datetime.now(UTC)
        if status.status == PinState.pinned:
            if pin.state != PinState.pinned:
                self.counters.count(pin.provider, "pinned")
            wait = self.settings.pin_reconcile_seconds
        elif status.status == PinState.failed:
            self.counters.count(pin.provider, "failed:at-provider")
            attempts = pin.attempts + 1
            return {
                "state": PinState.failed,
                "request_id": status.requestid,
                "attempts": attempts,
                "error": "failed-at-provider",
                "next_at": now + timedelta(seconds=self._backoff(attempts)),
            }
        else:
            wait = self.settings.pin_poll_seconds
        return {
            "state": status.status,
            "request_id": status.requestid,
            "attempts": 0,
            "error": None,
            "next_at": now + timedelta(seconds=wait),
        }

    def _lost(self, pin: Pin) -> dict[str, object]:
        """The provider no longer holds (nor pins) it: request it again at once."""
        log.warning("pinning: %s lost %s; requesting it again", pin.provider, pin.cid)
        self.counters.count(pin.provider, "lost")
        return {"state": PinState.pending, "request_id": None, "error": "lost", "next_at": datetime.now(UTC)}

    def _failure(self, pin: Pin, exc: PinServiceError) -> dict[str, object]:
        attempts = pin.attempts + 1
        wait = self._backoff(attempts)
        if exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, 3600.0))
        return {"attempts": attempts, "error": exc.kind, "next_at": datetime.now(UTC) + timedelta(seconds=wait)}

    def _backoff(self, attempts: int) -> float:
        base = self.settings.pin_backoff_seconds * 2.0 ** min(attempts - 1, 20)
        return min(self.settings.pin_backoff_max_seconds, base) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter

    def _write(self, pin: Pin, changes: dict[str, object]) -> None:
        with session_scope(self.engine) as s:
            s.execute(
                update(Pin)
                .where(col(Pin.cid) == pin.cid, col(Pin.provider) == pin.provider)
                .values(**changes, updated_at=datetime.now(UTC))
            )

    def _report(self, provider: str, exc: PinServiceError | None) -> None:
        """One line when a provider starts failing, one when it answers again (names and classes only)."""
        if exc is None:
            if provider in self._failing:
                self._failing.discard(provider)
                log.warning("pinning: %s answers again", provider)
            return
        if provider not in self._failing:
            self._failing.add(provider)
            hint = "" if exc.retryable else " (check its endpoint and token)"
            log.warning("pinning: %s failed (%s)%s; retrying with backoff", provider, exc.kind, hint)

    def close(self) -> None:
        self.http.close()
