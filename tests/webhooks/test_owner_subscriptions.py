"""Webhook subscriptions with an owner filter: the address is validated and kept checksummed, and the
outbox queues a delivery only for events that move a twin from or to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from registry.chain.logs import checksum
from registry.db.engine import make_engine, migrate, session_scope
from registry.events.public import TYPES
from registry.webhooks.models import Subscription
from registry.webhooks.outbox import Fanout
from registry.webhooks.schemas import WebhookIn

PLAYER = checksum("0x" + "a1" * 20)
OTHER = checksum("0x" + "b2" * 20)
CONTRACT = checksum("0x" + "c3" * 20)


def _event(kind: str, data: dict[str, Any], n: int) -> dict[str, Any]:
    return {"id": f"evt_{n}", "type": kind, "contract": CONTRACT, "token_id": 10_001, "data": data}


def test_owner_must_be_an_address() -> None:
    for bad in ("0x12", "player", "0x" + "g1" * 20):
        with pytest.raises(ValidationError):
            WebhookIn(url="https://example.com/h", event_types=["transferred"], owner=bad)
    assert WebhookIn(url="https://example.com/h", event_types=["transferred"], owner=PLAYER.lower()).owner


def test_the_outbox_queues_only_the_owners_events(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hooks.db'}")
    migrate(engine)
    with session_scope(engine) as s:
        for sub_id, owner in (("game", PLAYER), ("everyone", None)):
            s.add(
                Subscription(
                    id=sub_id, url="https://example.com/h", event_types=json.dumps(TYPES), owner=owner, secret="x"
                )
            )
    events = [
        _event("transferred", {"from": PLAYER, "to": OTHER}, 1),  # sold
        _event("claimed", {"from": OTHER, "to": PLAYER}, 2),  # claimed
        _event("transferred", {"from": OTHER, "to": checksum("0x" + "d4" * 20)}, 3),  # someone else's
        _event("minted", {"custodian": OTHER, "first_token_id": 10_001, "last_token_id": 10_002}, 4),
        _event("status_changed", {"status": "stolen", "by": PLAYER}, 5),  # not an ownership move
        _event("burned", {"from": PLAYER}, 6),
    ]
    with session_scope(engine) as s:
        fanout = Fanout(s)
        queued = {e["id"]: sorted(d.subscription_id for d in fanout.deliveries(e)) for e in events}
    assert queued == {
        "evt_1": ["everyone", "game"],
        "evt_2": ["everyone", "game"],
        "evt_3": ["everyone"],
        "evt_4": ["everyone"],
        "evt_5": ["everyone"],
        "evt_6": ["everyone", "game"],
    }
