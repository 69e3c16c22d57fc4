"""The outbox: deliveries written in the same transaction as the indexed events they announce, and
cancelled when a reorganisation removes their event before they went out."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.events.public import matches
from registry.webhooks.models import Delivery, Subscription


class Fanout:
    """Matches events to subscriptions; loaded once per indexing pass."""

    def __init__(self, session: Session) -> None:
        self.subscriptions = list(session.exec(select(Subscription).where(Subscription.active == True)))  # noqa: E712
        self.brand_of = {c.address.lower(): c.brand_id for c in session.exec(select(Collection))}

    def deliveries(self, event: dict[str, Any]) -> list[Delivery]:
        contract = event["contract"].lower()
        return [
            Delivery(
                subscription_id=sub.id,
                event_id=event["id"],
                event_type=event["type"],
                payload=json.dumps(event, separators=(",", ":")),
            )
            for sub in self.subscriptions
            # brands hear about their own collections only
            if (sub.brand_id is None or self.brand_of.get(contract) == sub.brand_id)
            and matches(event, set(json.loads(sub.event_types)), sub.collection, sub.token_id, sub.owner)
        ]


def cancel_pending(session: Session, event_ids: list[str], reason: str) -> None:
    """Pending deliveries of these events will not be sent (their events are gone)."""
    for i in range(0, len(event_ids), 500):
        session.execute(
            update(Delivery)
            .where(col(Delivery.event_id).in_(event_ids[i : i + 500]), col(Delivery.state) == "pending")
            .values(state="cancelled", last_error=reason)
        )


# Events about a brand's own twins or owners that no chain log carries (`registry.alerts`,
# `registry.consent`, `registry.privileges`): only the brand's own subscriptions hear them, never a
# partner's, and never through an owner filter (they move no twin).
BRAND_TYPES = ("alert.raised", "alert.resolved", "consent.granted", "consent.revoked", "privilege.redeemed")


def enqueue_brand_event(session: Session, brand_id: str, event: dict[str, Any]) -> int:
    """Outbox rows for the brand's subscriptions to `event` (in the caller's transaction); how many."""
    subs = session.exec(
        select(Subscription).where(Subscription.brand_id == brand_id, Subscription.active == True)  # noqa: E712
    ).all()
    types = (set(json.loads(sub.event_types)) for sub in subs)
    about = event | {"contract": event["contract"] or ""}  # a lookup alert names no collection
    rows = [
        Delivery(
            subscription_id=sub.id,
            event_id=event["id"],
            event_type=event["type"],
            payload=json.dumps(event, separators=(",", ":"), default=str),
        )
        for sub, wanted in zip(subs, types, strict=True)
        if sub.owner is None and matches(about, wanted, sub.collection, sub.token_id)
    ]
    session.add_all(rows)
    return len(rows)
