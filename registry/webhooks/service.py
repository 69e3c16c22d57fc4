"""Webhook subscriptions and partners; the outbox sender with signatures, retries and a log."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import keys
from registry.brands.models import Brand
from registry.db.engine import session_scope
from registry.db.lease import LeaseHolder, run_leased
from registry.errors import InvalidInput, NotFound, Unauthenticated
from registry.settings import Settings
from registry.webhooks.events import TYPES
from registry.webhooks.models import Delivery, DeliveryAttempt, Partner, Subscription

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + HMAC-SHA256 over `timestamp.body`: what the Twinmark-Signature header carries."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of a delivery's signature."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


# ---------------------------------------------------------------- partners and subscriptions


def create_partner(session: Session, name: str) -> tuple[Partner, str]:
    key = keys.new_key("tmp")
    partner = Partner(id=key.prefix, name=name, key_hash=key.secret_hash)
    session.add(partner)
    return partner, key.text


def authenticate_partner(session: Session, key: str) -> Partner:
    parts = keys.parse(key, "tmp")
    partner = session.get(Partner, parts[0]) if parts else None
    if partner is None or not keys.matches(partner.key_hash, parts[1] if parts else None):
        raise Unauthenticated("invalid partner key")
    return partner


@dataclass
class Owner:
    brand: Brand | None = None
    partner: Partner | None = None

    def owns(self, sub: Subscription) -> bool:
        if self.brand is not None:
            return sub.brand_id == self.brand.id
        return self.partner is not None and sub.partner_id == self.partner.id


def create_subscription(
    session: Session, owner: Owner, *, url: str, types: list[str], collection: str | None, token_id: int | None
) -> tuple[Subscription, str]:
    if not re.match(r"^https?://[^\s]+$", url):
        raise InvalidInput("url must be an http(s) URL")
    unknown = sorted(set(types) - set(TYPES))
    if not types or unknown:
        raise InvalidInput(
            f"event types must be among {', '.join(TYPES)}" + (f" (unknown: {unknown})" if unknown else "")
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = Subscription(
        id=str(uuid.uuid4()),
        brand_id=owner.brand.id if owner.brand else None,
        partner_id=owner.partner.id if owner.partner else None,
        url=url,
        event_types=json.dumps(sorted(set(types))),
        collection=collection,
        token_id=token_id,
        secret=secret,
    )
    session.add(sub)
    return sub, secret


def subscription_view(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "url": sub.url,
        "event_types": json.loads(sub.event_types),
        "collection": sub.collection,
        "token_id": sub.token_id,
        "active": sub.active,
        "created_at": sub.created_at,
    }


def owned(session: Session, owner: Owner, sub_id: str) -> Subscription:
    sub = session.get(Subscription, sub_id)
    if sub is None or not owner.owns(sub):
        raise NotFound(f"no webhook {sub_id}")
    return sub


def deliveries(session: Session, sub: Subscription, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Delivery).where(Delivery.subscription_id == sub.id).order_by(col(Delivery.id).desc()).limit(limit)
    ).all()
    out = []
    for d in rows:
        attempts = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == d.id)).all()
        out.append(
            {
                "id": d.id,
                "event_id": d.event_id,
                "event_type": d.event_type,
                "state": d.state,
                "attempts": [
                    {"at": a.attempted_at, "status": a.status_code, "error": a.error, "ms": a.duration_ms}
                    for a in attempts
                ],
                "next_attempt_at": d.next_attempt_at if d.state == "pending" else None,
                "delivered_at": d.delivered_at,
            }
        )
    return out


def redeliver(session: Session, sub: Subscription, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.subscription_id != sub.id:
        raise NotFound(f"no delivery {delivery_id} for this webhook")
    delivery.state, delivery.next_attempt_at = "pending", datetime.now(UTC)
    return delivery


# ---------------------------------------------------------------- sender


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
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Twinmark-Webhooks/1",
            "Twinmark-Event-Id": delivery.event_id,
            "Twinmark-Event-Type": delivery.event_type,
            "Twinmark-Timestamp": timestamp,
            "Twinmark-Signature": signature(sub.secret, timestamp, body),
        }
        started = time.monotonic()
        try:
            response = self.http.post(sub.url, content=body, headers=headers)
            return response.status_code, None, int((time.monotonic() - started) * 1000)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500], int((time.monotonic() - started) * 1000)
