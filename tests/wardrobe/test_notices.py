"""Ownership notices: a game-side webhook receiver subscribed with an owner filter keeps its own copy
of a player's wardrobe; after a resale it drops the garment, after a claim it adds one, and it hears
nothing about other addresses. The event stream with `?owner=` tells the same story."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from eth_account import Account

from api.main import create_app
from registry.events.public import TYPES
from registry.webhooks.sender import WebhookSender
from registry.webhooks.signing import verify_signature
from tests.support.server import serve
from tests.wardrobe.conftest import OPERATOR, World, keys
from tests.webhooks.listeners import Listener


class GameWardrobe:
    """What a game keeps of one player's garments: loaded from the listing, then kept current by the
    signed notices it receives (a garment leaves when the player is `from`, arrives when `to`)."""

    def __init__(self, world: World, player: str, secret: str) -> None:
        self.player, self.secret = player.lower(), secret
        self.items = set(keys(world.all_pages(player)))
        self.heard: list[dict[str, Any]] = []

    def receive(self, request: dict[str, Any]) -> None:
        h = request["headers"]
        assert verify_signature(self.secret, h["Twinmark-Timestamp"], request["body"], h["Twinmark-Signature"])
        event = json.loads(request["body"])
        self.heard.append(event)
        key = (event["contract"], event["token_id"])
        if (event["data"].get("from") or "").lower() == self.player:
            self.items.discard(key)
        if (event["data"].get("to") or "").lower() == self.player:
            self.items.add(key)


def _deliver_all(world: World, listener: Listener, expected: int) -> None:
    sender = WebhookSender(world.stack.runtime.engine, world.stack.runtime.settings)
    deadline = time.monotonic() + 30
    while len(listener.seen.requests) < expected and time.monotonic() < deadline:
        sender.lease.hold()
        sender.step()
        time.sleep(0.05)
    time.sleep(0.5)  # anything more (it must not come) would arrive now
    sender.lease.hold()
    sender.step()
    while sender.in_flight():
        time.sleep(0.05)


def test_a_game_drops_a_garment_after_a_resale_and_hears_of_no_one_else(world: World) -> None:
    player, buyer, stranger = world.player, Account.create().address, Account.create().address
    r = world.client.post("/v1/partners", json={"name": "Game Co"}, headers={"Authorization": f"Bearer {OPERATOR}"})
    assert r.status_code == 201, r.text
    partner = {"Authorization": f"Bearer {r.json()['api_key']}"}
    listener = Listener()
    try:
        r = world.client.post(
            "/v1/webhooks",
            json={"url": listener.url(), "event_types": list(TYPES), "owner": player.address.lower()},
            headers=partner,
        )
        assert r.status_code == 201, r.text
        assert r.json()["owner"] == player.address  # any spelling in, the checksummed address kept
        listed = world.client.get("/v1/webhooks", headers=partner).json()["webhooks"]
        assert [w["owner"] for w in listed] == [player.address]
        game = GameWardrobe(world, player.address, r.json()["secret"])
        jacket = next(k for k, t in world.owned.items() if t["name"] == "Jacket")
        spare, gift = (next(k for k in world.secrets if k[1] == t["token_id"]) for t in _unclaimed(world))
        assert jacket in game.items

        world.resell(player, *jacket, to=buyer)  # the resale, signed by the player and relayed
        world.claim(*spare, recipient=stranger)  # someone else's claim
        world.claim(*gift, recipient=player.address)  # a gift the player claims
        world.index()
        _deliver_all(world, listener, expected=2)

        for request in listener.seen.requests:
            game.receive(request)
        assert sorted((e["type"], e["contract"], e["token_id"]) for e in game.heard) == sorted(
            [("transferred", *jacket), ("claimed", *gift)]
        )
        assert all(player.address in (e["data"].get("from"), e["data"].get("to")) for e in game.heard)
        assert jacket not in game.items and gift in game.items
        assert game.items == set(keys(world.all_pages(player.address)))  # the game agrees with the index
        assert jacket in keys(world.all_pages(buyer))

        # The event stream filtered by the same owner: the player's claims, the resale, the gift; nothing else.
        with serve(create_app(runtime=world.stack.runtime)) as base:
            bad = httpx.get(f"{base}/v1/events/stream", params={"owner": "0x12"}, timeout=10)
            assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-input")
            expected = [("claimed", *k) for k in world.owned] + [("transferred", *jacket), ("claimed", *gift)]
            streamed = _stream(f"{base}/v1/events/stream", {"owner": player.address.lower()}, len(expected))
        assert sorted((e["type"], e["contract"], e["token_id"]) for e in streamed) == sorted(expected)
        assert all(player.address in (e["data"].get("from"), e["data"].get("to")) for e in streamed)
    finally:
        listener.close()


def _unclaimed(world: World) -> list[dict[str, Any]]:
    """The fixture's two unclaimed garments of brand A (Spare, Gift), by name."""
    names = {"Spare", "Gift"}
    rows = world.client.get(f"/v1/owners/{world.stack.runtime.chain.sender.address}/twins", params={"limit": 100})
    found = {i["name"]: i for i in rows.json()["items"] if i["name"] in names}
    return [found["Spare"], found["Gift"]]


def _stream(url: str, params: dict[str, str], count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    with httpx.stream("GET", url, params=params, timeout=10) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                received.append(json.loads(line[6:]))
            if len(received) == count:
                break
    return received
