"""Webhooks against a real receiver on loopback that fails, times out, then succeeds: every event
arrives, signatures verify, nothing is lost across a restart of the sender. And the SSE stream."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import standardwebhooks
import uvicorn
from eth_account import Account
from sqlmodel import Session, select

from api.main import create_app
from registry.chain.anvil import free_port
from registry.webhooks.models import Delivery
from registry.webhooks.sender import WebhookSender
from registry.webhooks.signing import verify_signature
from tests.api.conftest import OPERATOR
from tests.indexer.conftest import Indexed


class Receiver:
    """Answers 500 to the first request, hangs past the sender's timeout on the second, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.calls = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls == 1:
                    self.send_response(500)
                    self.end_headers()
                    return
                if receiver.calls == 2:
                    time.sleep(1.5)  # the sender gives up after 0.5 s
                    self.send_response(200)
                    self.end_headers()
                    return
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def event_ids(self) -> set[str]:
        return {r["headers"]["Twinmark-Event-Id"] for r in self.requests}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def partner(ix: Indexed) -> dict[str, str]:
    r = ix.client.post("/v1/partners", json={"name": "Resale Co"}, headers={"Authorization": f"Bearer {OPERATOR}"})
    assert r.status_code == 201
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


def run_sender(ix: Indexed, until: Any, timeout: float = 30) -> WebhookSender:
    """Passes until `until()`, then until the attempts they started are over and recorded (a pass
    does not wait for them)."""
    sender = WebhookSender(ix.runtime.engine, ix.runtime.settings)
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        sender.lease.hold()
        sender.step()
        time.sleep(0.05)
    while sender.in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    return sender


def test_every_event_arrives_signed_despite_failures_and_a_sender_restart(indexed: Indexed, receiver: Receiver) -> None:
    ix = indexed
    key = partner(ix)
    r = ix.client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["minted", "transferred", "status_changed"]},
        headers=key,
    )
    assert r.status_code == 201, r.text
    hook, secret = r.json()["id"], r.json()["secret"]
    first = ix.mint_direct(["Hooked 1", "Hooked 2"])
    chain = ix.runtime.chain
    col = chain.collection(ix.collection)
    chain.sender.transact(col.functions.transferFrom(chain.sender.address, Account.create().address, first))
    chain.sender.transact(col.functions.setStatusByBrand(first + 1, 2))
    ix.runtime.indexer.catch_up()
    with Session(ix.runtime.engine) as s:
        outbox = s.exec(select(Delivery).where(Delivery.subscription_id == hook)).all()
    expected = {d.event_id for d in outbox}
    assert {d.event_type for d in outbox} == {"minted", "transferred", "status_changed"} and len(expected) == 3

    # First sender: runs into the failure and the timeout, then "crashes" (is dropped) mid-way.
    first_sender = run_sender(ix, lambda: receiver.calls >= 2)
    first_sender.lease.release()
    assert receiver.calls >= 2
    # A new sender process picks the outbox up from the database.
    run_sender(ix, lambda: receiver.event_ids() >= expected)
    assert receiver.event_ids() == expected
    for request in receiver.requests:
        h = request["headers"]
        assert verify_signature(secret, h["Twinmark-Timestamp"], request["body"], h["Twinmark-Signature"])
        assert json.loads(request["body"])["id"] == h["Twinmark-Event-Id"]
        # The same delivery verifies with the Standard Webhooks reference library (raises if not).
        standardwebhooks.Webhook(secret).verify(request["body"], dict(h))
    log = ix.client.get(f"/v1/webhooks/{hook}/deliveries", headers=key).json()["deliveries"]
    assert all(d["state"] == "delivered" for d in log)
    errors = [a for d in log for a in d["attempts"] if a["status"] != 204]
    assert any(a["status"] == 500 for a in errors) and any(a["error"] == "timeout" for a in errors)

    # Redelivery sends the same event id again (receivers drop duplicates by it).
    delivered = log[0]
    assert ix.client.post(f"/v1/webhooks/{hook}/deliveries/{delivered['id']}/redeliver", headers=key).status_code == 202
    before = len(receiver.requests)
    run_sender(ix, lambda: len(receiver.requests) > before)
    assert receiver.requests[-1]["headers"]["Twinmark-Event-Id"] == delivered["event_id"]


def test_subscriptions_are_scoped_and_managed(indexed: Indexed, receiver: Receiver) -> None:
    ix = indexed
    other_op = {"Authorization": f"Bearer {OPERATOR}"}
    r = ix.client.post("/v1/brands", json={"name": "Other", "symbol": "OTH"}, headers=other_op)
    other_brand = {"Authorization": f"Bearer {r.json()['api_key']}"}
    mine = ix.client.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["minted"]}, headers=ix.brand
    ).json()
    theirs = ix.client.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["minted"]}, headers=other_brand
    ).json()
    token_hook = ix.client.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["minted"], "token_id": 999_999}, headers=ix.brand
    ).json()
    ix.mint_direct(["Scoped"])
    ix.runtime.indexer.catch_up()
    with Session(ix.runtime.engine) as s:
        counts = {
            sub: len(s.exec(select(Delivery).where(Delivery.subscription_id == sub)).all())
            for sub in (mine["id"], theirs["id"], token_hook["id"])
        }
    assert counts == {mine["id"]: 1, theirs["id"]: 0, token_hook["id"]: 0}
    assert ix.client.get(f"/v1/webhooks/{mine['id']}/deliveries", headers=other_brand).status_code == 404
    assert [w["id"] for w in ix.client.get("/v1/webhooks", headers=ix.brand).json()["webhooks"]] == [
        mine["id"],
        token_hook["id"],
    ]
    assert ix.client.delete(f"/v1/webhooks/{mine['id']}", headers=ix.brand).status_code == 204
    assert mine["id"] not in [w["id"] for w in ix.client.get("/v1/webhooks", headers=ix.brand).json()["webhooks"]]
    bad = ix.client.post("/v1/webhooks", json={"url": "ftp://x", "event_types": ["minted"]}, headers=ix.brand)
    assert bad.status_code == 422
    bad = ix.client.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["exploded"]}, headers=ix.brand)
    assert bad.status_code == 422 and "exploded" in bad.json()["detail"]
    assert ix.client.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["minted"]}).status_code == 401


def test_server_sent_events_stream(indexed: Indexed) -> None:
    ix = indexed
    first = ix.mint_direct(["Streamed 1", "Streamed 2"])
    chain = ix.runtime.chain
    chain.sender.transact(chain.collection(ix.collection).functions.setStatusByBrand(first, 2))
    ix.runtime.indexer.catch_up()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=ix.runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    try:
        received: list[dict[str, Any]] = []
        url = f"http://127.0.0.1:{port}/v1/events/stream"
        with httpx.stream(
            "GET", url, params={"types": "minted,status_changed", "collection": ix.collection}, timeout=10
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            stream_id = None
            for line in r.iter_lines():
                if line.startswith("id: "):
                    stream_id = int(line[4:])
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                if len(received) == 2:
                    break
        assert [e["type"] for e in received] == ["minted", "status_changed"]
        assert received[1]["token_id"] == first and received[1]["data"]["status"] == "stolen"
        # Resuming after the last id yields only what came later.
        chain.sender.transact(chain.collection(ix.collection).functions.setStatusByBrand(first, 0))
        ix.runtime.indexer.catch_up()
        with httpx.stream(
            "GET", url, headers={"Last-Event-ID": str(stream_id)}, params={"types": "status_changed"}, timeout=10
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    later = json.loads(line[6:])
                    break
        assert later["data"]["status"] == "active"
    finally:
        server.should_exit = True
