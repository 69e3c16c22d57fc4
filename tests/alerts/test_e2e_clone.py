"""End to end through real HTTP (uvicorn as `twinmark serve` runs it; SQLite and PostgreSQL): a HaLo tap
replayed from a second network (a cloned tag) is recorded by the scan log, raised by the running
runtime's alert worker, delivered to the brand as a signed `alert.raised` webhook, and shown as a
caution on the twin's page (English and Chinese) and in `/v1/verify`; the brand resolves it, hears
`alert.resolved`, and the caution is gone. The other brand sees none of it, and a genuine buyer
re-scanning and re-tapping their own item raises nothing."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from registry.alerts.worker import AlertWorker
from registry.nfc import diversify
from registry.nfc.service import enrol_challenge
from registry.webhooks.signing import verify_signature
from tests.api.conftest import Stack, _database_url, physical
from tests.conftest import postgres_server  # noqa: F401 - the fixture _database_url asks for
from tests.nfc.simulator import HaloChip, Ntag424
from tests.support.site import BROWSER, HTML, mint, served_stack

MASTER = os.urandom(16)  # the brand's NTAG 424 master key
BUYER_IP, CLONE_IP = "198.51.100.7", "2001:db8:77::9"  # two networks (IPv4 /24, IPv6 /48)


class Receiver(BaseHTTPRequestHandler):
    got: ClassVar[dict[str, list[tuple[dict[str, str], bytes]]]] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.setdefault(self.path, []).append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@dataclass
class World:
    stack: Stack
    url: str
    a: dict[str, str]
    b: dict[str, str]
    collection: str
    token: int
    b_collection: str
    b_token: int
    chip: HaloChip
    tagged: int  # a second twin, bound to an NTAG 424 DNA tag
    tag: Ntag424
    secrets: dict[str, str]  # receiver path -> signing secret

    def browser(self, ip: str, **headers: str) -> httpx.Client:
        sent = {"User-Agent": BROWSER, "Accept": HTML, "X-Forwarded-For": ip} | headers
        return httpx.Client(base_url=self.url, headers=sent, timeout=30)

    def settle(self) -> None:
        """Every scan so far stored and run through the rules by the runtime's own alert worker."""
        recorder = self.stack.runtime.scans
        assert recorder.flush(10)
        # The runtime keeps its worker only as the scan log's listener (`recorder.on_batch(worker.submit)`).
        workers = [w for w in (getattr(f, "__self__", None) for f in recorder._listeners) if isinstance(w, AlertWorker)]
        assert len(workers) == 1 and workers[0].flush(10)

    def alerts(self, headers: dict[str, str], **query: Any) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/v1/alerts", params=query, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        return list(r.json()["alerts"])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"e2e-{request.param}")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    Receiver.got = {}
    database_url = _database_url(request, tmp)
    hooks: dict[str, Any] = {"webhook_allow_private_targets": True, "webhook_backoff_seconds": 0.05}
    try:
        with served_stack(tmp, proxied=True, database_url=database_url, **hooks) as (stack, url):
            a, collection = stack.new_brand("Maison Clone", "CLON")
            b, b_collection = stack.new_brand("Other House", "OTHC")
            token, tagged = (t["token_id"] for t in mint(stack, a, [physical("E2E-0"), physical("E2E-1")]))
            b_token = mint(stack, b, [physical("E2E-B", code="400638133394")])[0]["token_id"]
            chip = HaloChip()
            challenge = enrol_challenge(stack.runtime.chain.chain_id, collection, token)
            body = {"type": "halo", "address": chip.address, "signature": chip.sign_challenge(challenge.hex())}
            r = stack.client.post(f"/v1/twins/{collection}/{token}/nfc-tags", json=body, headers=a)
            assert r.status_code == 201, r.text
            r = stack.client.put("/v1/brands/me/nfc/master-key", json={"key": MASTER.hex()}, headers=a)
            assert r.status_code == 200, r.text
            uid = b"\x04" + os.urandom(6)
            tag = Ntag424(uid, diversify.meta_read_key(MASTER), diversify.file_read_key(MASTER, uid))
            r = stack.client.post(
                f"/v1/twins/{collection}/{tagged}/nfc-tags", json={"type": "ntag424", "uid": uid.hex()}, headers=a
            )
            assert r.status_code == 201, r.text
            secrets = {}
            for path, headers in (("/a", a), ("/b", b)):
                hook = {"url": f"http://127.0.0.1:{receiver.server_port}{path}", "event_types": ["alert.raised"]}
                hook["event_types"].append("alert.resolved")
                r = stack.client.post("/v1/webhooks", json=hook, headers=headers)
                assert r.status_code == 201, r.text
                secrets[path] = r.json()["secret"]
            yield World(stack, url, a, b, collection, token, b_collection, b_token, chip, tagged, tag, secrets)
    finally:
        receiver.shutdown()


def _page(world: World, ip: str, lang: str, collection: str | None = None, token: int | None = None) -> str:
    with world.browser(ip) as client:
        r = client.get(f"/t/{collection or world.collection}/{token or world.token}", params={"lang": lang})
    assert r.status_code == 200, r.text
    return r.text


def _verify(world: World, collection: str | None = None, token: int | None = None) -> dict[str, Any]:
    with world.browser(BUYER_IP, Accept="application/json") as client:
        r = client.get(f"/v1/verify/{collection or world.collection}/{token or world.token}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _events(path: str, kind: str, count: int = 1, wait: float = 30.0) -> list[tuple[dict[str, str], bytes]]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = [(h, b) for h, b in Receiver.got.get(path, []) if h["Twinmark-Event-Type"] == kind]
        if len(got) >= count:
            return got
        time.sleep(0.1)
    return [(h, b) for h, b in Receiver.got.get(path, []) if h["Twinmark-Event-Type"] == kind]


def test_a_genuine_buyer_rescanning_and_retapping_raises_nothing(world: World) -> None:
    with world.browser(BUYER_IP) as phone:
        for _ in range(3):  # three taps, counters 1, 2, 3, each followed to its verdict page
            r = phone.get(f"/t/{world.collection}/{world.token}", params=world.chip.tap(), follow_redirects=True)
            assert r.status_code == 200 and 'data-genuine="true" data-fresh="true"' in r.text
            phone.get(f"/t/{world.collection}/{world.token}", params={"src": "qr"})  # and the label's QR again
        assert phone.get(f"/v1/verify/{world.collection}/{world.token}").status_code == 200
    world.settle()
    assert world.alerts(world.a) == []
    assert 'id="caution"' not in _page(world, BUYER_IP, "en")
    assert "caution" not in _verify(world)


def test_a_cloned_tag_is_flagged_delivered_shown_and_cleared(world: World) -> None:
    copied = world.chip.tap()  # one genuine tap, read off the tag by someone else ...
    with world.browser(BUYER_IP) as phone:
        assert phone.get(f"/t/{world.collection}/{world.token}", params=copied).status_code == 303
    with world.browser(CLONE_IP) as clone:  # ... and replayed from a cloned tag on another network
        r = clone.get(f"/t/{world.collection}/{world.token}", params=copied, follow_redirects=True)
        assert 'data-fresh="false"' in r.text

    deadline = time.monotonic() + 30  # the runtime's own worker raises it: poll the API as a brand would
    alerts: list[dict[str, Any]] = []
    while not alerts and time.monotonic() < deadline:
        alerts = world.alerts(world.a, state="open", rule="nfc-counter")
        time.sleep(0.1)
    assert len(alerts) == 1, world.alerts(world.a)
    alert = alerts[0]
    assert (alert["contract"], alert["token_id"]) == (world.collection, world.token)
    assert [a["rule"] for a in world.alerts(world.a)] == ["nfc-counter"]  # nothing else on either session

    raised = _events("/a", "alert.raised")
    assert len(raised) == 1
    headers, body = raised[0]
    assert verify_signature(world.secrets["/a"], headers["Twinmark-Timestamp"], body, headers["Twinmark-Signature"])
    assert json.loads(body)["data"]["id"] == alert["id"]

    en, zh = _page(world, BUYER_IP, "en"), _page(world, BUYER_IP, "zh")
    assert 'id="caution"' in en and 'data-rule="nfc-counter"' in en
    assert "the same tap was seen twice" in en and "fake" not in en.lower().split('id="caution"')[1][:600]
    assert "同一次触碰被看到了两次" in zh and "异常扫描" in zh and "the same tap" not in zh
    assert 'data-authentic="true"' in en  # a genuine item stays authentic: the caution says what was seen
    verdict = _verify(world)
    assert verdict["authentic"] is True and verdict["caution"]["rule"] == "nfc-counter"
    assert verdict["caution"]["zh"].startswith("该物品的芯片")
    assert _verify(world)["caution"] == verdict["caution"]  # the warm (cached) answer carries it too

    # brand B: no alert, no webhook, no caution on its own twin; A's alert does not exist for it
    assert world.alerts(world.b) == []
    assert httpx.get(f"{world.url}/v1/alerts/{alert['id']}", headers=world.b).status_code == 404
    r = httpx.post(f"{world.url}/v1/alerts/{alert['id']}/resolve", json={}, headers=world.b)
    assert r.status_code == 404
    assert 'id="caution"' not in _page(world, BUYER_IP, "en", world.b_collection, world.b_token)
    assert "caution" not in _verify(world, world.b_collection, world.b_token)

    r = httpx.post(
        f"{world.url}/v1/alerts/{alert['id']}/resolve", json={"note": "tag replaced"}, headers=world.a, timeout=30
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    # cleared at once in this process (the resolve route refreshes its copy), warm cache or not
    assert 'id="caution"' not in _page(world, BUYER_IP, "en") and 'id="caution"' not in _page(world, BUYER_IP, "zh")
    assert "caution" not in _verify(world)
    resolved = _events("/a", "alert.resolved")
    assert len(resolved) == 1 and json.loads(resolved[0][1])["data"]["note"] == "tag replaced"
    assert verify_signature(
        world.secrets["/a"], resolved[0][0]["Twinmark-Timestamp"], resolved[0][1], resolved[0][0]["Twinmark-Signature"]
    )
    time.sleep(0.5)  # the sender had its chance to misdeliver
    assert Receiver.got.get("/b", []) == []


def test_a_replayed_sun_tap_is_flagged_and_cleared_while_the_buyers_own_taps_are_not(world: World) -> None:
    with world.browser(BUYER_IP) as phone:  # the buyer taps twice (counters rise), then reloads the page
        for _ in range(2):
            r = phone.get(f"/t/{world.collection}/{world.tagged}", params=world.tag.tap(), follow_redirects=True)
            assert 'data-genuine="true" data-fresh="true"' in r.text
        copied = world.tag.tap()  # the third tap's URL, also read off by a skimmer
        assert phone.get(f"/t/{world.collection}/{world.tagged}", params=copied).status_code == 303
    world.settle()
    assert world.alerts(world.a, token_id=world.tagged) == []
    with world.browser(CLONE_IP, Accept="application/json") as clone:  # a cloned tag serves that URL
        r = clone.get(f"/v1/twins/{world.collection}/{world.tagged}/tap", params=copied)
        assert r.status_code == 200 and r.json()["code"] == "replayed"
    deadline = time.monotonic() + 30
    alerts: list[dict[str, Any]] = []
    while not alerts and time.monotonic() < deadline:
        alerts = world.alerts(world.a, token_id=world.tagged, state="open")
        time.sleep(0.1)
    assert [a["rule"] for a in alerts] == ["nfc-counter"]
    assert _verify(world, token=world.tagged)["caution"]["rule"] == "nfc-counter"
    assert "the same tap was seen twice" in _page(world, BUYER_IP, "en", token=world.tagged)
    r = httpx.post(f"{world.url}/v1/alerts/{alerts[0]['id']}/resolve", json={}, headers=world.a, timeout=30)
    assert r.status_code == 200
    assert "caution" not in _verify(world, token=world.tagged)
    assert 'id="caution"' not in _page(world, BUYER_IP, "zh-CN", token=world.tagged)
