"""Webhook subscriptions of brands and partners: create, list, delete, delivery log, redeliver."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_utils.address import to_checksum_address
from sqlmodel import Session, col, select

from registry.auth.models import Partner
from registry.auth.vault import seal, unseal
from registry.brands.models import Brand
from registry.errors import InvalidInput, NotFound
from registry.events.public import TYPES
from registry.net.guard import HostUnresolvable, Resolver, TargetRefused, check_target, system_resolver
from registry.webhooks.models import Delivery, DeliveryAttempt, Subscription
from registry.webhooks.outbox import BRAND_TYPES
from registry.webhooks.schemas import AttemptOut, DeliveryOut, WebhookCreated, WebhookOut
from registry.webhooks.signing import new_secret

SEALED = "sealed:v1:"


@dataclass
class Owner:
    brand: Brand | None = None
    partner: Partner | None = None

    def owns(self, sub: Subscription) -> bool:
        if self.brand is not None:
            return sub.brand_id == self.brand.id
        return self.partner is not None and sub.partner_id == self.partner.id


def create_subscription(
    session: Session,
    owner: Owner,
    *,
    url: str,
    types: list[str],
    collection: str | None,
    token_id: int | None,
    allow_private_targets: bool,
    owner_address: str | None = None,
    server_key: str,
    resolver: Resolver = system_resolver,
) -> tuple[Subscription, str]:
    """`allow_private_targets` is `Settings.webhook_allow_private_targets`: unless the operator opted
    in, a URL whose host is (or resolves to) a non-public address is refused, and so is a name that
    does not resolve. The sender checks again at every attempt (`registry.net`)."""
    if not re.match(r"^https?://[^\s]+$", url):
        raise InvalidInput("url must be an http(s) URL")
    known = (*TYPES, *BRAND_TYPES) if owner.brand is not None else TYPES  # alerts are the brand's own business
    unknown = sorted(set(types) - set(known))
    if not types or unknown:
        raise InvalidInput(
            f"event types must be among {', '.join(known)}" + (f" (unknown: {unknown})" if unknown else "")
        )
    check_webhook_url(url, allow_private_targets=allow_private_targets, resolver=resolver)
    secret = new_secret()
    sub_id = str(uuid.uuid4())
    sub = Subscription(
        id=sub_id,
        brand_id=owner.brand.id if owner.brand else None,
        partner_id=owner.partner.id if owner.partner else None,
        url=url,
        event_types=json.dumps(sorted(set(types))),
        collection=collection,
        token_id=token_id,
        owner=None if owner_address is None else to_checksum_address(owner_address),
        secret=seal_secret(server_key, sub_id, secret),
    )
    session.add(sub)
    return sub, secret


# The signing key must be usable for every delivery, so the service keeps it: sealed (AES-256-GCM)
# under its own server key, bound to the subscription. Rows from before are sealed at start.


def seal_secret(server_key: str, sub_id: str, secret: str) -> str:
    return SEALED + seal(server_key, f"webhook:{sub_id}", secret.encode())


def open_secret(server_key: str, sub: Subscription) -> str:
    if not sub.secret.startswith(SEALED):
        return sub.secret  # a row not yet sealed (sealed at the next start)
    return unseal(server_key, f"webhook:{sub.id}", sub.secret.removeprefix(SEALED)).decode()


def seal_stored_secrets(session: Session, server_key: str) -> int:
    """Seals the secrets still stored in clear (subscriptions made before secrets were sealed)."""
    clear = [sub for sub in session.exec(select(Subscription)) if not sub.secret.startswith(SEALED)]
    for sub in clear:
        sub.secret = seal_secret(server_key, sub.id, sub.secret)
    return len(clear)


def check_webhook_url(url: str, *, allow_private_targets: bool, resolver: Resolver = system_resolver) -> None:
    """Refuses (`InvalidInput`, 422) a URL the sender would refuse to call. Resolves the host: call
    it before the session writes anything (no DNS wait under a database write lock)."""
    try:
        check_target(url, allow_private=allow_private_targets, resolver=resolver)
    except TargetRefused as exc:
        if exc.reason != "non-public-address":
            raise InvalidInput(f"url refused: {exc.detail}", reason=exc.reason) from exc
        raise InvalidInput(
            f"url refused: {exc.detail}; webhooks are only sent to public addresses (an operator can allow "
            "private targets with TWINMARK_WEBHOOK_ALLOW_PRIVATE_TARGETS=true)",
            reason=exc.reason,
        ) from exc
    except HostUnresolvable as exc:
        raise InvalidInput(f"url refused: {exc.detail}", reason=exc.reason) from exc


def subscription_view(sub: Subscription) -> WebhookOut:
    return WebhookOut(
        id=sub.id,
        url=sub.url,
        event_types=json.loads(sub.event_types),
        collection=sub.collection,
        token_id=sub.token_id,
        owner=sub.owner,
        active=sub.active,
        created_at=sub.created_at,
    )


def created_view(sub: Subscription, secret: str) -> WebhookCreated:
    """A new subscription with its signing secret, shown this once."""
    return WebhookCreated(**dict(subscription_view(sub)), secret=secret)


def active_subscriptions(session: Session, owner: Owner) -> list[Subscription]:
    return [sub for sub in session.exec(select(Subscription)) if owner.owns(sub) and sub.active]


def owned(session: Session, owner: Owner, sub_id: str) -> Subscription:
    sub = session.get(Subscription, sub_id)
    if sub is None or not owner.owns(sub):
        raise NotFound(f"no webhook {sub_id}")
    return sub


def deliveries(session: Session, sub: Subscription, limit: int = 100) -> list[DeliveryOut]:
    rows = session.exec(
        select(Delivery).where(Delivery.subscription_id == sub.id).order_by(col(Delivery.id).desc()).limit(limit)
    ).all()
    return delivery_views(session, rows)


def delivery_views(session: Session, rows: Sequence[Delivery]) -> list[DeliveryOut]:
    """Deliveries as the API and the console show them, with their attempts."""
    out = []
    for d in rows:
        attempts = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == d.id)).all()
        assert d.id is not None  # a stored row
        out.append(
            DeliveryOut(
                id=d.id,
                event_id=d.event_id,
                event_type=d.event_type,
                state=d.state,
                attempts=[
                    AttemptOut(at=a.attempted_at, status=a.status_code, error=a.error, ms=a.duration_ms)
                    for a in attempts
                ],
                next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
                delivered_at=d.delivered_at,
            )
        )
    return out


def redeliver(session: Session, sub: Subscription, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.subscription_id != sub.id:
        raise NotFound(f"no delivery {delivery_id} for this webhook")
    delivery.state, delivery.next_attempt_at = "pending", datetime.now(UTC)
    return delivery


def deactivate(sub: Subscription) -> None:
    sub.active = False
