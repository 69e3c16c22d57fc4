"""The Integrations page in real Chromium: a webhook created from the page, delivered to a real local
HTTP receiver and redelivered from its delivery log (the receiver gets the same event twice); an API
key created (shown once) and revoked (the API then answers 401); an analyst refused a key (audited);
another brand's webhook, delivery and key refused as not found; axe-core in both languages."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser
from sqlmodel import Session, select

from registry.chain.anvil import free_port
from registry.staff.models import StaffRole
from registry.webhooks.models import Delivery
from tests.api.conftest import gtin
from tests.console.ops_support import (  # noqa: F401 - the fixtures
    LANGS,
    Console,
    audit,
    console_fixture,
    fits_a_tablet,
    no_serious_violations,
)


class Receiver:
    """A webhook receiver on loopback: every POST body it got, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        got = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.bodies) >= count, self.bodies


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


def mint_one(console: Console, brand: str, serial: str) -> None:
    console.mint(brand, [{"kind": "physical", "name": "Sac", "gtin": gtin("500000000001"), "serial": serial}])


def test_a_webhook_created_delivered_and_redelivered(console: Console, browser: Browser, receiver: Receiver) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.operator))
    page.goto(f"{console.url}/console/integrations")
    page.fill("#hook-url", receiver.url)
    page.click("#webhook-form button[type=submit]")
    page.wait_for_selector("#webhook-secret-value")
    assert len(page.text_content("#webhook-secret-value").strip()) > 20  # the secret, this once
    page.goto(f"{console.url}/console/integrations")
    assert page.query_selector("#webhook-secret-value") is None  # never shown again

    mint_one(console, "aurele", "HOOK-1")
    receiver.wait_for(1)
    event_id = receiver.bodies[0]["id"]
    assert receiver.bodies[0]["type"] == "minted"
    with Session(console.stack.runtime.engine) as s:  # the sender records the 2xx just after it lands
        deadline = time.monotonic() + 10
        while s.exec(select(Delivery).where(Delivery.event_id == event_id)).one().state != "delivered":
            assert time.monotonic() < deadline
            time.sleep(0.1)
            s.expire_all()

    page.goto(f"{console.url}/console/integrations")
    row = f"tr[data-delivery][data-state=delivered]:has(small:text-is('{event_id}'))"
    page.click(f"{row} button.redeliver")
    page.wait_for_selector("#done")
    receiver.wait_for(2)
    assert receiver.bodies[1]["id"] == event_id  # the same event, again (receivers drop duplicates by id)
    deadline = time.monotonic() + 10
    while page.get_attribute(f"tr[data-delivery]:has(small:text-is('{event_id}'))", "data-attempts") != "2":
        assert time.monotonic() < deadline
        time.sleep(0.2)
        page.reload()
    assert [o for o, _, _ in audit(console, "aurele", "webhook.redeliver")] == ["ok"]
    assert [o for o, _, _ in audit(console, "aurele", "webhook.create")] == ["ok"]


def test_a_key_created_once_then_revoked_is_refused_by_the_api(console: Console, browser: Browser) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.admin))
    page.goto(f"{console.url}/console/integrations")
    page.click("#key-form button[type=submit]")
    key = page.text_content("#new-key-value").strip()
    prefix = key.split("_")[1]
    api = console.stack.client
    assert api.get("/v1/brands/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    page.goto(f"{console.url}/console/integrations")
    assert key not in page.content()  # shown once: only the prefix remains
    page.click(f"tr[data-key='{prefix}'] button.danger")
    page.wait_for_selector("#done")
    assert page.get_attribute(f"tr[data-key='{prefix}']", "data-revoked") == "true"
    assert api.get("/v1/brands/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert api.get("/v1/brands/me", headers=console.headers("aurele")).status_code == 200  # the others still work
    assert [(o, t) for o, _, t in audit(console, "aurele", "key.revoke")] == [("ok", None)]
    assert ("ok", "admin of aurele", None) in audit(console, "aurele", "key.create")


@pytest.mark.parametrize("role", [StaffRole.analyst, StaffRole.operator])
def test_only_an_admin_creates_or_revokes_keys(console: Console, role: StaffRole) -> None:
    member = console.staff("aurele", role)
    prefix = console.brands["aurele"]["key"].split("_")[1]
    with httpx.Client(base_url=console.url, cookies=member.cookies(), headers={"Origin": console.url}) as client:
        page = client.get("/console/integrations")
        assert page.status_code == 200 and 'id="key-form"' not in page.text
        before = len(client.get("/console/integrations").text.split("data-key="))
        assert client.post("/console/integrations/keys", data={"csrf": member.csrf}).status_code == 403
        revoke = client.post(f"/console/integrations/keys/{prefix}/revoke", data={"csrf": member.csrf})
        assert revoke.status_code == 403
        assert len(client.get("/console/integrations").text.split("data-key=")) == before  # no key was made
    assert console.stack.client.get("/v1/brands/me", headers=console.headers("aurele")).status_code == 200
    refused = audit(console, "aurele", "POST /console/integrations/keys")
    assert ("refused", f"{role.value} of aurele", "needs admin") in refused


def test_another_brands_webhook_delivery_and_key_are_not_found(console: Console, receiver: Receiver) -> None:
    rival = console.headers("rival")
    api = console.stack.client
    r = api.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["minted"]}, headers=rival)
    assert r.status_code == 201, r.text
    hook = r.json()["id"]
    mint_one(console, "rival", "RIVAL-HOOK-1")
    receiver.wait_for(1)
    delivery = api.get(f"/v1/webhooks/{hook}/deliveries", headers=rival).json()["deliveries"][0]["id"]
    rival_prefix = console.brands["rival"]["key"].split("_")[1]

    admin = console.staff("aurele", StaffRole.admin)
    with httpx.Client(base_url=console.url, cookies=admin.cookies(), headers={"Origin": console.url}) as client:
        form = {"csrf": admin.csrf}
        redeliver = f"/console/integrations/webhooks/{hook}/deliveries/{delivery}/redeliver"
        assert client.post(redeliver, data=form).status_code == 404
        assert client.post(f"/console/integrations/webhooks/{hook}/delete", data=form).status_code == 404
        assert client.post(f"/console/integrations/keys/{rival_prefix}/revoke", data=form).status_code == 404
        assert hook not in client.get("/console/integrations").text
        # Without the CSRF token, nothing is even looked up.
        assert client.post(f"/console/integrations/keys/{rival_prefix}/revoke").status_code == 403
    assert api.get("/v1/brands/me", headers=rival).status_code == 200
    assert api.get(f"/v1/webhooks/{hook}/deliveries", headers=rival).json()["deliveries"][0]["state"] == "delivered"
    time.sleep(0.5)
    assert len(receiver.bodies) == 1  # nothing was redelivered


@pytest.mark.parametrize("lang", LANGS)
def test_integrations_page_in_both_languages_passes_axe(console: Console, browser: Browser, lang: str) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.admin), lang, bypass_csp=True)
    page.goto(f"{console.url}/console/integrations?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    assert page.text_content("h1") == ("Integrations" if lang == "en" else "集成")
    no_serious_violations(page)
    fits_a_tablet(page)
