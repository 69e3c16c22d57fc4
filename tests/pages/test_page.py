"""The page a buyer sees after a scan: English or Simplified Chinese (from Accept-Language, switchable),
the verdict in plain words, the passport and its EU DPP fields, re-checked in the browser; JSON
clients are sent to the twin's record; no serious accessibility violation in either language."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from registry.nfc import diversify
from registry.pages import tickets
from registry.pages.catalog_en import CHECKS as CHECKS_EN
from registry.pages.catalog_en import TEXTS as TEXTS_EN
from registry.pages.catalog_zh import CHECKS as CHECKS_ZH
from registry.pages.catalog_zh import TEXTS as TEXTS_ZH
from tests.nfc.simulator import Ntag424
from tests.pages.conftest import AXE, MOBILE, ROOT, Site, picture, recheck_state, showcase

CHECK_NAMES = [
    "genuine_collection",
    "token_exists",
    "issuer_standing",
    "metadata_integrity",
    "assets_integrity",
    "status",
]


@pytest.fixture(scope="module")
def bag(site: Site) -> dict[str, Any]:
    images = [site.stack.upload(site.brand, picture(i), f"bag-{i}.png") for i in range(2)]
    (twin,) = site.mint([showcase("SI25-0001", images)])
    provider = site.stack.client.post("/v1/providers", json={"name": "Atelier Repairs"}, headers=site.brand)
    assert provider.status_code == 201, provider.text
    record = {"kind": "repair", "summary": "Handle re-stitched", "performed_on": "2026-11-20"}
    r = site.stack.client.post(
        f"/v1/twins/{site.collection}/{twin['token_id']}/service-records",
        json=record,
        headers={"Authorization": f"Bearer {provider.json()['api_key']}"},
    )
    assert r.status_code == 201, r.text
    return twin | {"images": images, "provider": provider.json()["address"]}


def open_page(browser: Browser, url: str, locale: str, **context: Any) -> Page:
    page = browser.new_context(viewport=MOBILE, locale=locale, **context).new_page()
    page.goto(url)
    return page


def test_catalogs_cover_the_same_texts_and_every_check() -> None:
    assert TEXTS_EN.keys() == TEXTS_ZH.keys()
    assert sorted(CHECKS_EN) == sorted(CHECKS_ZH) == sorted(CHECK_NAMES)
    for catalog in (TEXTS_EN, TEXTS_ZH, *CHECKS_EN.values(), *CHECKS_ZH.values()):
        assert all(value.strip() for value in catalog.values())
    for key, english in TEXTS_EN.items():  # the same placeholders in both languages
        assert sorted(part.split("}")[0] for part in english.split("{")[1:]) == sorted(
            part.split("}")[0] for part in TEXTS_ZH[key].split("{")[1:]
        ), key


def test_json_clients_are_sent_to_the_twin_record(site: Site, bag: dict[str, Any]) -> None:
    for accept in ("application/json", "*/*", "text/html;q=0.5, application/json"):
        r = httpx.get(site.page_url(bag["token_id"]), headers={"Accept": accept})
        assert r.status_code == 303, accept
        assert r.headers["location"] == f"/v1/twins/{site.collection}/{bag['token_id']}"
    followed = httpx.get(site.page_url(bag["token_id"]), headers={"Accept": "application/json"}, follow_redirects=True)
    assert followed.json()["serial"] == "SI25-0001"
    html = httpx.get(site.page_url(bag["token_id"]), headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in html.headers["content-security-policy"]
    bad = httpx.get(f"{site.url}/t/not-an-address/1", headers={"Accept": "text/html"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_english_page_with_passport_dpp_and_browser_recheck(browser: Browser, site: Site, bag: dict[str, Any]) -> None:
    page = open_page(
        browser, site.page_url(bag["token_id"]), "en-GB", extra_http_headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Sac Iconique 25"
    assert page.text_content(".brand") == "Maison Aurèle"
    assert page.inner_text("#verdict-title").endswith("Authentic")
    shown = page.eval_on_selector_all(".checks li", "els => els.map(e => [e.dataset.check, e.dataset.ok])")
    assert shown == [[name, "true"] for name in CHECK_NAMES]
    assert CHECKS_EN["assets_integrity"]["ok"] in page.inner_text("[data-check=assets_integrity]")
    # Images through the gateway, and they really load (decoded by the browser).
    sources = page.eval_on_selector_all(".gallery img", "els => els.map(e => e.getAttribute('src'))")
    assert sources == [f"{site.url}/ipfs/{cid}" for cid in bag["images"]]
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    dpp = page.inner_text("#dpp")
    for text in (
        "Leather goods",
        "bovine leather 82 %",
        "cotton (lining) 18 % (recycled)",
        "Tanning: IT, Conceria del Chienti",
    ):
        assert text in dpp, text
    assert "Chromium(III) sulfate (CAS 10101-53-8) 0.02 %" in dpp
    assert "NTAG 424 DNA" in page.inner_text("#tap")
    service = page.inner_text("text=Service history >> xpath=..")
    assert bag["provider"] in service
    assert page.inner_text("#owners") == "1"
    assert recheck_state(page) == "verified"
    assert page.inner_text("#recheck-badge") == "Verified in your browser"
    save_screenshot(page, "page-en.png")


def test_chinese_page_from_accept_language_and_the_switch(browser: Browser, site: Site, bag: dict[str, Any]) -> None:
    headers = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    page = open_page(browser, site.page_url(bag["token_id"]), "zh-CN", extra_http_headers=headers)
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("#verdict-title").endswith("正品")
    assert CHECKS_ZH["metadata_integrity"]["title"] in page.inner_text("[data-check=metadata_integrity]")
    assert "皮具" in page.inner_text("#dpp") and "鞣制: IT" in page.inner_text("#dpp")
    assert recheck_state(page) == "verified"
    assert page.inner_text("#recheck-badge") == TEXTS_ZH["recheck_ok"]
    save_screenshot(page, "page-zh.png")
    # The visible switch keeps the path and wins over Accept-Language.
    page.click("nav.langs a[lang=en]")
    page.wait_for_load_state()
    assert page.url == site.page_url(bag["token_id"], lang="en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#verdict-title").endswith("Authentic")
    page.click("nav.langs a[lang=zh-CN]")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.get_attribute("nav.langs a[lang=zh-CN]", "aria-current") == "true"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_serious_accessibility_violation(browser: Browser, site: Site, bag: dict[str, Any], lang: str) -> None:
    # axe is injected as a script: the page's CSP (script-src 'self') is bypassed for the test only.
    page = open_page(browser, site.page_url(bag["token_id"], lang=lang), lang, bypass_csp=True)
    recheck_state(page)  # scanned with the script's result in place
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious
    assert result["testEngine"]["name"] == "axe-core" and len(result["passes"]) > 10  # axe really ran


def save_screenshot(page: Page, name: str) -> None:
    """Full-page screenshot at the mobile viewport; into docs/ (for the README) when
    TWINMARK_SCREENSHOTS=1, else only checked that it renders."""
    image = page.screenshot(full_page=True)
    assert image.startswith(b"\x89PNG") and len(image) > 20_000
    if os.environ.get("TWINMARK_SCREENSHOTS") == "1":
        target = ROOT / "docs" / name
        target.parent.mkdir(exist_ok=True)
        Path(target).write_bytes(image)
        # And what the buyer sees first after scanning (the README shows these).
        Path(target.with_name(target.stem + "-first-screen.png")).write_bytes(page.screenshot())


def test_a_passport_never_issued_is_a_404_page_that_the_browser_agrees_with(browser: Browser, site: Site) -> None:
    page = browser.new_context(viewport=MOBILE, locale="en").new_page()
    response = page.goto(site.page_url(99_999))
    assert response is not None and response.status == 404
    assert page.inner_text("h1") == TEXTS_EN["not_found"]
    assert page.get_attribute("#verdict", "data-authentic") == "false"
    shown = page.eval_on_selector_all(".checks li", "els => els.map(e => [e.dataset.check, e.dataset.ok])")
    assert shown == [["genuine_collection", "true"], ["token_exists", "false"]]
    assert recheck_state(page) == "failed"
    assert page.get_attribute("#recheck-result li[data-check=token_exists]", "data-ok") == "false"


def test_a_tap_shows_its_verdict_only_in_the_browser_that_tapped(
    browser: Browser, site: Site, bag: dict[str, Any]
) -> None:
    """A phone opening a tag's URL: the tap check's 303 sets the browser's cookie, the page it lands on
    shows the verdict and the tap time, and keeps both on reload and language switch. The same page URL
    opened in another browser (a clone tag carrying it) shows no verdict, only the note."""
    master, uid = os.urandom(16), bytes.fromhex(showcase("x", [])["nfc"][0]["uid"])
    client = site.stack.client
    assert client.put("/v1/brands/me/nfc/master-key", json={"key": master.hex()}, headers=site.brand).is_success
    enrolled = client.post(
        f"/v1/twins/{site.collection}/{bag['token_id']}/nfc-tags",
        json={"type": "ntag424", "uid": uid.hex()},
        headers=site.brand,
    )
    assert enrolled.status_code == 201, enrolled.text
    tag = Ntag424(uid, diversify.meta_read_key(master), diversify.file_read_key(master, uid))

    page = open_page(browser, site.page_url(bag["token_id"], **tag.tap()), "en-GB")  # the phone that tapped
    assert "?tap=" in page.url and "picc_data" not in page.url
    assert page.get_attribute(".tap-result", "data-fresh") == "true"
    assert re.fullmatch(r"Tapped \d\d:\d\d:\d\d UTC, \d+ s ago", page.inner_text("#tap-time"))
    (cookie,) = [c for c in page.context.cookies() if c["name"] == tickets.COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert tickets.COOKIE not in page.evaluate("document.cookie")  # out of scripts' reach
    page.reload()
    assert page.get_attribute(".tap-result", "data-fresh") == "true"
    page.click("nav.langs a[lang=zh-CN]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "zh-CN" and TEXTS_ZH["tap_ok"] in page.inner_text("#tap")
    assert re.fullmatch(r"\d\d:\d\d:\d\d UTC 感应\uff0c\d+ 秒前", page.inner_text("#tap-time"))

    clone = open_page(browser, page.url, "zh-CN", bypass_csp=True)  # another phone, the URL from a clone tag
    assert clone.locator(".tap-result").count() == 0 and clone.locator("#tap-time").count() == 0
    assert clone.get_attribute(".tap-note", "data-tap-refusal") == "other-browser"
    assert clone.inner_text(".tap-note") == TEXTS_ZH["tap_other_browser"]
    clone.add_script_tag(path=str(AXE))
    result = clone.evaluate("axe.run('#tap', {resultTypes: ['violations']})")
    assert [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")] == []
