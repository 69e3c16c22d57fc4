"""A tap of the item's NFC tag lands on the page (through the GS1 Digital Link on the tag, or the page
URL itself) and the page says whether the tap is genuine and fresh, next to the twin's verdict."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from registry.nfc import diversify
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
        for body in ({"type": "ntag424", "uid": uid.hex()}, {"type": "halo", "address": chip.address}):
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
    page = stack.client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200
    assert tap_block(page.text) == ("true", "true")
    assert "This tap is genuine and fresh" in page.text
    # The same link again (a copied URL): the counter is not new.
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
