"""A tap of the item's NFC tag lands on the page (through the GS1 Digital Link on the tag, or the page
URL itself) and the page says whether the tap is genuine and fresh, next to the twin's verdict."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

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
    page = stack.client.get(checked.headers["location"], headers=HTML)
    assert page.status_code == 200
    assert tap_block(page.text) == ("true", "true")
    assert "This tap is genuine and fresh" in page.text
    # Reloading the page, or switching its language, shows the same verdict (the tap is not replayed).
    assert tap_block(stack.client.get(checked.headers["location"], headers=HTML).text) == ("true", "true")
    chinese = re.search(r'href="([^"]*lang=zh-CN[^"]*)"', page.text)
    assert chinese and "tap=" in chinese.group(1) and "picc_data" not in chinese.group(1)
    assert tap_block(stack.client.get(chinese.group(1).replace("&amp;", "&"), headers=HTML).text) == ("true", "true")
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
    key = stack.runtime.server_key
    genuine = TapView(kind="ntag424", genuine=True, fresh=True, counter=9)
    ticket = tickets.issue(key, t["collection"], t["token"], genuine)
    assert tickets.read(key, ticket, t["collection"], t["token"]) == genuine
    assert tickets.read("another server key", ticket, t["collection"], t["token"]) is None  # forged
    assert tickets.read(key, ticket, t["collection"], t["token"] + 1) is None  # another twin's page
    later = time.time() + tickets.TTL_SECONDS + 1
    assert tickets.read(key, ticket, t["collection"], t["token"], now=later) is None  # expired
    body, mac = ticket.split(".")
    for bad in (body + "." + mac[:-2] + "AA", "x" * 3000, "no-dot", "a.b.c", "!!.??"):
        assert tickets.read(key, bad, t["collection"], t["token"]) is None
    page = stack.client.get(f"/t/{t['collection']}/{t['token']}", params={"tap": body + ".AAAA"}, headers=HTML)
    assert page.status_code == 200 and "data-genuine" not in page.text


def test_the_page_never_publishes_the_configured_rpc_url(tagged: tuple[Stack, dict[str, Any]]) -> None:
    """A hosted RPC URL carries the provider's API key: the page only shows an RPC URL the operator
    named public (TWINMARK_PUBLIC_RPC_URL); the stack here is configured with a chain RPC URL only."""
    stack, t = tagged
    assert stack.runtime.settings.chain_rpc_url and not stack.runtime.settings.public_rpc_url
    html = stack.client.get(f"/t/{t['collection']}/{t['token']}", headers=HTML).text
    assert stack.runtime.settings.chain_rpc_url not in html
    assert stack.anvil.url not in html
