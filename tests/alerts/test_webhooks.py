"""`alert.raised` and `alert.resolved` leave through the existing outbox and sender, signed; only brands
may subscribe to them (a partner reads every collection's chain events, never a brand's alerts)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine

from registry.alerts import actions
from registry.alerts.service import AlertEngine
from registry.auth.models import Partner
from registry.brands.models import Brand
from registry.db.engine import session_scope
from registry.errors import InvalidInput
from registry.settings import Settings
from registry.twins.models import Twin
from registry.webhooks import service as hooks
from registry.webhooks.sender import WebhookSender
from registry.webhooks.signing import verify_signature
from tests.alerts.conftest import A_COLLECTION, NOW, TOKEN, record

SERVER_KEY = "c2VydmVyLWtleS1mb3ItYWxlcnQtdGVzdHMtMzItYnl0ZXM="


def public(_host: str, _port: int) -> list[str]:
    return ["93.184.216.34"]  # a name resolving to a public address, without asking DNS


def test_only_brands_subscribe_to_alert_events(db: Engine) -> None:
    with session_scope(db) as s:
        brand = s.get(Brand, "brand-a")
        hooks.create_subscription(
            s,
            hooks.Owner(brand=brand),
            url="https://hooks.example/a",
            types=["alert.raised", "alert.resolved"],
            collection=None,
            token_id=None,
            allow_private_targets=False,
            server_key=SERVER_KEY,
            resolver=public,
        )
        partner = Partner(id="tmp_p", name="Resale", key_hash="x")
        s.add(partner)
        with pytest.raises(InvalidInput):
            hooks.create_subscription(
                s,
                hooks.Owner(partner=partner),
                url="https://hooks.example/p",
                types=["alert.raised"],
                collection=None,
                token_id=None,
                allow_private_targets=False,
                server_key=SERVER_KEY,
                resolver=public,
            )


class Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_raised_and_resolved_are_delivered_signed(db: Engine, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got = []
    url = f"http://127.0.0.1:{server.server_port}/hook"
    with session_scope(db) as s:
        _, secret = hooks.create_subscription(
            s,
            hooks.Owner(brand=s.get(Brand, "brand-a")),
            url=url,
            types=["alert.raised", "alert.resolved"],
            collection=A_COLLECTION,
            token_id=None,
            allow_private_targets=True,
            server_key=SERVER_KEY,
        )
        s.get(Twin, (A_COLLECTION, TOKEN)).burned = True  # type: ignore[union-attr]
        raised = AlertEngine().process(
            s, record(s, A_COLLECTION, "brand-a", [{"channel": "page", "session": "x"}]), now=NOW
        )
        actions.resolve(s, raised[0], "destroyed stock, label reused by a reseller: handled")
    settings = Settings(
        data_dir=tmp_path, secret_key=SERVER_KEY, webhook_allow_private_targets=True, webhook_backoff_seconds=0.05
    )
    sender = WebhookSender(db, settings)
    try:
        deadline = time.monotonic() + 10
        while len(Receiver.got) < 2 and time.monotonic() < deadline:
            sender.step()
            time.sleep(0.05)
    finally:
        sender.pool.shutdown(wait=True)
        server.shutdown()
    assert sorted(h["Twinmark-Event-Type"] for h, _ in Receiver.got) == ["alert.raised", "alert.resolved"]
    for headers, body in Receiver.got:
        assert verify_signature(secret, headers["Twinmark-Timestamp"], body, headers["Twinmark-Signature"])
        event = json.loads(body)
        assert event["data"]["rule"] == "burned-scanned" and event["contract"] == A_COLLECTION
    resolved = next(json.loads(b) for h, b in Receiver.got if h["Twinmark-Event-Type"] == "alert.resolved")
    assert resolved["data"]["state"] == "resolved" and resolved["data"]["note"].startswith("destroyed stock")
