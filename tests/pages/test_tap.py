"""A tap of the item's NFC tag lands on the page (through the GS1 Digital Link on the tag, or the page
URL itself) and the page says whether the tap is genuine and fresh, next to the twin's verdict."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urljoin

import pytest
from fastapi.testclient import TestClient

from registry.nfc import diversify
from registry.nfc.service import enrol_challenge
from registry.pages import tickets
from registry.pages.schemas import TapView
from tests.api.conftest import Stack, fresh_stack, physical
from tests.nfc.simulator import HaloChip, Ntag424

HTML = {"Accept": "text/html"}
MASTER = os.urandom(16)


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, Any]]]:
    with fresh_stack(tmp_path_factory.mktemp("tap-page")) as stack:
        headers, collection = stack.new_brand("Maison Tap", "TAPP")
        uid = b"\x04" + os.urandom(6)
        tag = Ntag424(uid, diversify.meta_read_key(MASTER), diversify.file_read_key(MASTER, uid))
        chip = HaloChip()
        twin = physical("TAP-1") | {
            "nfc": [{"type": "ntag424", "uid": uid.hex()}, {"type": "halo", "address": chip.address}]
        }
        job = stack.wait_job(headers, stack.client.post("/v1/twins", json=twin, headers=headers).json()["id"])
        token = job["twins"][0]["token_id"]
        assert stack.client.put("/v1/brands/me/nfc/master-key", json={"key": MASTER.hex()}, headers=headers).is_success
        challenge = enrol_challenge(stack.runtime.chain.chain_id, collection, token)
        halo = {"type": "halo", "address": chip.address, "signature": chip.sign_challenge(challenge.hex())}
        for body in ({"type": "ntag424", "uid": uid.hex()}, halo):
            r = stack.client.post(f"/v1/twins/{collection}/{token}/nfc-tags", json=body, headers=headers)
            assert r.status_code == 201 and r.json()["bound_in_content"] is True, r.text
        yield stack, {"collection": collection, "token": token, "tag": tag, "chip": chip, "twin": twin}


def tap_block(html: str) -> tuple[str, str]:
    found = re.search(r'data-genuine="(\w+)" data-fresh="(\w+)"', html)
    assert found, "no tap result on the page"
    return found.group(1), found.group(2)


def test_a_fresh_tap_through_the_digital_link_is_genuine_and_fresh(tagged: tuple[Stack, dict[str, Any]]) -> None:
    stack, t = tagged
    params = t["tag"].tap()
    link = f"/01/{t['twin']['gtin']}/21/{t['twin']['serial']}?{urlencode(params)}"
    r = stack.client.get(link, headers=HTML, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith(f"?{urlencode(params)}")
    checked = stack.client.get(r.headers["location"], headers=HTML, follow_redirects=False)
    assert checked.status_code == 303 and "?tap=" in checked.headers["location"]  # checked once, then the page
    # Where a browser goes next: the location resolved against the tap URL's host (the one its cookie is for).
    landed = urljoin(str(checked.request.url), checked.headers["location"])
    page = stack.client.get(landed, headers=HTML)
    assert page.status_code == 200
    assert tap_block(page.text) == ("true", "true")
    assert "This tap is genuine and fresh" in page.text and re.search(
        r"Tapped \d\d:\d\d:\d\d UTC, \d+ s ago", page.text
    )
    # Reloading the page, or switching its language, shows the same verdict (the tap is not replayed).
    assert tap_block(stack.client.get(landed, headers=HTML).text) == ("true", "true")
    chinese = re.search(r'href="([^"]*lang=zh-CN[^"]*)"', page.text)
    assert chinese and "tap=" in chinese.group(1) and "picc_data" not in chinese.group(1)
    zh = stack.client.get(urljoin(landed, chinese.group(1).replace("&amp;", "&")), headers=HTML).text
    assert tap_block(zh) == ("true", "true") and re.search(r"\d\d:\d\d:\d\d UTC 感应\uff0c\d+ 秒前", zh)
    # The tap URL itself again (a copied link): the counter is not new.
    again = stack.client.get(r.headers["location"], headers=HTML)
    assert tap_block(again.text) == ("true", "false") and "not fresh" in again.text


def test_a_forged_tap_and_a_chip_tap(tagged: tuple[Stack, dict[str, Any]]) -> None:
    stack, t = tagged
    page = f"/t/{t['collection']}/{t['token']}"
    forged = t["tag"].tap()
    forged["cmac"] = ("0" if forged["cmac"][0] != "0" else "1") + forged["cmac"][1:]
    r = stack.client.get(page, params=forged | {"lang": "zh-CN"}, headers=HTML)
    assert tap_block(r.text) == ("false", "false") and 'lang="zh-CN"' in r.text
    chip = stack.client.get(page, params=t["chip"].tap(), headers=HTML)
    assert tap_block(chip.text) == ("true", "true")
    plain = stack.client.get(page, headers=HTML)
    assert "data-genuine" not in plain.text  # no tap parameters: no tap verdict, only the invitation to tap


def test_a_tap_ticket_cannot_be_forged_moved_or_kept(tagged: tuple[Stack, dict[str, Any]]) -> None:
    stack, t = tagged
    key, c, n = stack.runtime.server_key, t["collection"], t["token"]
    mine, theirs = tickets.new_browser_id(), tickets.new_browser_id()
    genuine = TapView(kind="ntag424", genuine=True, fresh=True, counter=9)
    at = 1_800_000_000
    ticket = tickets.issue(key, c, n, genuine, mine, now=at + 0.7)
    assert tickets.read(key, ticket, c, n, mine, lifetime=60, now=at + 30) == genuine.model_copy(
        update={"tapped_at": at}
    )
    assert tickets.read(key, ticket, c, n, theirs, lifetime=60, now=at + 30) == "other-browser"
    assert tickets.read(key, ticket, c, n, None, lifetime=60, now=at + 30) == "other-browser"  # no cookie
    assert tickets.read("another server key", ticket, c, n, mine, lifetime=60, now=at) == "other-browser"  # forged
    assert tickets.read(key, ticket, c, n + 1, mine, lifetime=60, now=at) is None  # another twin's page
    assert tickets.read(key, ticket, c, n, mine, lifetime=60, now=at + 60) is not None
    assert tickets.read(key, ticket, c, n, mine, lifetime=60, now=at + 60.5) == "expired"
    assert tickets.read(key, ticket, c, n, theirs, lifetime=60, now=at + 600) == "other-browser"
    body, mac = ticket.split(".")
    # The tap time is under the MAC: a ticket made young again no longer verifies.
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["tap"]["tapped_at"] = at + 600
    younger = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    assert tickets.read(key, f"{younger}.{mac}", c, n, mine, lifetime=60, now=at + 600) == "other-browser"
    assert tickets.read(key, body + "." + mac[:-2] + "AA", c, n, mine, lifetime=60, now=at) == "other-browser"
    for bad in ("x" * 3000, "no-dot", "a.b.c", "!!.??", "W10.AAAA"):  # W10: the JSON `[]`
        assert tickets.read(key, bad, c, n, mine, lifetime=60, now=at) is None
    assert tickets.browser_id(mine) == mine and tickets.browser_id("short") is None
    assert tickets.browser_id("a" * 40 + ";x") is None and tickets.browser_id(None) is None
    page = stack.client.get(f"/t/{c}/{n}", params={"tap": body + ".AAAA"}, headers=HTML)
    assert page.status_code == 200 and "data-genuine" not in page.text
    assert 'data-tap-refusal="other-browser"' in page.text


def browser(stack: Stack) -> TestClient:
    """Another browser on the same service: its own cookie jar (the app is already running)."""
    return TestClient(stack.client.app, base_url=str(stack.client.base_url))


def tapped_through(client: TestClient, page: str, params: dict[str, str]) -> str:
    """`client` opens a tag's tap URL; the page URL (with its ticket) the service sends it on to."""
    r = client.get(page, params=params, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and "?tap=" in r.headers["location"], r.text
    return str(r.headers["location"])


def test_a_ticket_url_written_onto_a_clone_tag_shows_its_buyers_no_verdict(
    tagged: tuple[Stack, dict[str, Any]],
) -> None:
    """The counterfeiter taps the real tag once (browser A) and writes the page URL it lands on onto a
    clone tag; a buyer tapping the clone (browser B, with no cookie or its own) must not read
    "genuine and fresh". A itself keeps the verdict, with the time of the tap."""
    stack, t = tagged
    page = f"/t/{t['collection']}/{t['token']}"
    counterfeiter, buyer = browser(stack), browser(stack)
    first = counterfeiter.get(page, params=t["tag"].tap(), headers=HTML, follow_redirects=False)
    cookie = first.headers["set-cookie"]
    sid = counterfeiter.cookies[tickets.COOKIE]
    assert cookie.startswith(f"{tickets.COOKIE}={sid};") and len(sid) >= 43  # 256 random bits
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served over http here; https: below
    clone_url = first.headers["location"]
    assert sid not in clone_url  # the ticket carries a MAC over the cookie's hash, never the cookie

    seen = counterfeiter.get(clone_url, headers=HTML)
    assert tap_block(seen.text) == ("true", "true")
    printed = re.search(r"Tapped (\d\d):(\d\d):(\d\d) UTC, (\d+) s ago", seen.text)
    assert printed, "no tap time on the page"
    hh, mm, ss, age = (int(g) for g in printed.groups())
    now = datetime.now(UTC)
    tapped = now.replace(hour=hh, minute=mm, second=ss, microsecond=0)
    assert abs((now - tapped).total_seconds() - age) <= 2 and age <= 5
    assert sid not in seen.text and seen.headers["cache-control"] == "no-store, private"
    assert "Cookie" in seen.headers["vary"]

    for victim in (buyer, browser(stack)):
        if victim is not buyer:
            victim.cookies.set(tickets.COOKIE, tickets.new_browser_id())  # a browser with a cookie of its own
        for lang, note in (("en", "belongs to another browser"), ("zh-CN", "属于另一个浏览器")):
            r = victim.get(f"{clone_url}&lang={lang}", headers=HTML)
            assert r.status_code == 200 and "data-genuine" not in r.text
            assert "genuine and fresh" not in r.text and "真实有效" not in r.text and "Tapped" not in r.text
            assert 'data-tap-refusal="other-browser"' in r.text and note in r.text
    # A ticket never hands over the tapping browser's id (the scan log gives every visitor an id of its own)
    assert buyer.cookies.get(tickets.COOKIE) not in (None, sid)

    # The same browser's next tap reuses its cookie (no new Set-Cookie), and a malformed cookie is replaced.
    again = counterfeiter.get(page, params=t["tag"].tap(), headers=HTML, follow_redirects=False)
    assert again.status_code == 303 and "set-cookie" not in again.headers
    odd = browser(stack)
    odd.cookies.set(tickets.COOKIE, "not-random")
    replaced = odd.get(page, params=t["chip"].tap(), headers=HTML, follow_redirects=False)
    assert (
        replaced.headers["set-cookie"].startswith(f"{tickets.COOKIE}=")
        and "not-random" not in replaced.headers["set-cookie"]
    )
    fresh_id = browser(stack)  # the browser as it stands after the Set-Cookie: only the new id
    fresh_id.cookies.set(tickets.COOKIE, replaced.cookies[tickets.COOKIE])
    assert tap_block(fresh_id.get(replaced.headers["location"], headers=HTML).text) == ("true", "true")


def test_the_cookie_is_secure_behind_an_https_public_url(
    tagged: tuple[Stack, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, t = tagged
    monkeypatch.setattr(stack.runtime.settings, "public_url", "https://twin.example")
    r = browser(stack).get(
        f"/t/{t['collection']}/{t['token']}", params=t["tag"].tap(), headers=HTML, follow_redirects=False
    )
    assert r.status_code == 303 and "; Secure" in r.headers["set-cookie"]
    # __Host-: a browser takes it only Secure, Path=/, without Domain, from the host itself.
    assert (
        r.headers["set-cookie"].startswith(f"{tickets.HOST_COOKIE}=")
        and "domain" not in r.headers["set-cookie"].lower()
    )


def test_a_planted_plain_cookie_does_not_carry_a_ticket_behind_https(
    tagged: tuple[Stack, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cookie fixation: a counterfeiter taps the real tag, then plants its own browser id in a buyer's
    browser as a plain `tm_sid` (from a sibling subdomain, or injected over plain http on a shop's
    Wi-Fi), and writes its ticket URL onto a clone. Behind https only `__Host-tm_sid` counts, which
    neither way can set: the buyer sees no verdict."""
    stack, t = tagged
    monkeypatch.setattr(stack.runtime.settings, "public_url", "https://twin.example")
    page = f"/t/{t['collection']}/{t['token']}"
    counterfeiter = TestClient(stack.client.app, base_url="https://twin.example")
    url = tapped_through(counterfeiter, page, t["chip"].tap())
    planted = counterfeiter.cookies[tickets.HOST_COOKIE]
    assert tap_block(counterfeiter.get(url, headers=HTML).text) == ("true", "true")  # its own browser: verdict
    buyer = TestClient(stack.client.app, base_url="https://twin.example")
    buyer.cookies.set(tickets.COOKIE, planted)  # what a sibling subdomain or plain http can plant
    r = buyer.get(url, headers=HTML)
    assert r.status_code == 200 and "data-genuine" not in r.text
    assert 'data-tap-refusal="other-browser"' in r.text


def test_a_ticket_expires_after_the_configured_life(
    tagged: tuple[Stack, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, t = tagged
    assert stack.runtime.settings.tap_ticket_seconds == 60  # the default
    tapper = browser(stack)
    url = tapped_through(tapper, f"/t/{t['collection']}/{t['token']}", t["chip"].tap())
    assert tap_block(tapper.get(url, headers=HTML).text) == ("true", "true")
    monkeypatch.setattr(stack.runtime.settings, "tap_ticket_seconds", 1.0)
    time.sleep(2.1)
    for lang, note in (("en", "This tap result has expired; tap the tag again."), ("zh-CN", "此感应结果已过期")):
        r = tapper.get(f"{url}&lang={lang}", headers=HTML)
        assert r.status_code == 200 and "data-genuine" not in r.text and "Tapped" not in r.text
        assert 'data-tap-refusal="expired"' in r.text and note in r.text
    # Another browser holding the old ticket is still told it is not theirs (no claim either way).
    assert 'data-tap-refusal="other-browser"' in browser(stack).get(url, headers=HTML).text


def test_the_page_never_publishes_the_configured_rpc_url(tagged: tuple[Stack, dict[str, Any]]) -> None:
    """A hosted RPC URL carries the provider's API key: the page only shows an RPC URL the operator
    named public (TWINMARK_PUBLIC_RPC_URL); the stack here is configured with a chain RPC URL only."""
    stack, t = tagged
    assert stack.runtime.settings.chain_rpc_url and not stack.runtime.settings.public_rpc_url
    html = stack.client.get(f"/t/{t['collection']}/{t['token']}", headers=HTML).text
    assert stack.runtime.settings.chain_rpc_url not in html
    assert stack.anvil.url not in html


def test_a_ticket_of_deeply_nested_json_is_no_ticket(tagged: tuple[Stack, dict[str, Any]]) -> None:
    """A ticket's body is parsed before its MAC is checked (to tell "not this twin's" from "another
    browser's"): 1,530 nested brackets fit in a 2,048-character ticket and overflowed the JSON parser
    (RecursionError, a 500). Now no ticket: the page without a verdict."""
    stack, t = tagged
    deep = base64.urlsafe_b64encode(b"[" * 1_530).decode().rstrip("=")
    assert len(deep) + 5 <= 2_048
    assert (
        tickets.read(stack.runtime.server_key, f"{deep}.AAAA", t["collection"], t["token"], None, lifetime=60) is None
    )
    page = browser(stack).get(f"/t/{t['collection']}/{t['token']}", params={"tap": f"{deep}.AAAA"}, headers=HTML)
    assert page.status_code == 200 and "data-genuine" not in page.text
