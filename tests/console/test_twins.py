"""The console's twins in real Chromium over a seeded brand: the list searched by GTIN, serial, token
id and name, pages joined by a keyset cursor (checked on SQLite and on the listing function itself),
a twin's page with its content, events, recent scans newest first, alerts, NFC tag, labels and the
buyer's page; another brand's twin is not found; axe-core finds no serious violation in English or
Chinese."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser

from registry.dashboard.twins import page_of_twins
from registry.db.engine import session_scope
from registry.staff.models import StaffRole
from tests.console.pages_site import (
    LANGS,
    ConsoleSite,
    axe_serious,
    console_page,
    console_site,
    fits_tablet,
)

__all__ = ["console_site"]  # the module's fixture (site; the browser is tests/conftest.py's)


def _tokens(page_text: list[str]) -> list[int]:
    return [int(t) for t in page_text]


def test_search_by_gtin_serial_token_and_name(site: ConsoleSite, browser: Browser) -> None:
    page = console_page(browser, site, site.member(site.a_brand, StaffRole.analyst), "en")
    page.goto(f"{site.url}/console/twins")
    listed = _tokens(page.locator("#twins tbody td.mono").all_text_contents())
    assert listed == sorted((t["token_id"] for t in site.twins), reverse=True)  # newest token first
    assert page.locator(f"#twins a[href*='{site.b_collection}']").count() == 0  # token ids repeat across brands
    twin = site.twins[3]
    for query, field in ((twin["serial"], "any"), (twin["serial"], "serial"), (str(twin["token_id"]), "token")):
        page.fill("#q", query)
        page.select_option("#field", field)
        with page.expect_navigation():  # a GET form: read the new page, not the old one
            page.click("form.search button")
        assert _tokens(page.locator("#twins tbody td.mono").all_text_contents()) == [twin["token_id"]], (query, field)
    page.fill("#q", twin["gtin"])
    page.select_option("#field", "any")  # 13 digits: read as a GTIN
    with page.expect_navigation():  # a GET form: read the new page, not the old one
        page.click("form.search button")
    assert len(page.locator("#twins tbody tr").all()) == len(site.twins)
    page.fill("#q", "iconique aur-00")  # part of the name, any case
    page.select_option("#field", "name")
    with page.expect_navigation():  # a GET form: read the new page, not the old one
        page.click("form.search button")
    assert len(page.locator("#twins tbody tr").all()) == len(site.twins)
    page.fill("#q", "OTH-001")  # the other brand's serial
    page.select_option("#field", "serial")
    with page.expect_navigation():  # a GET form: read the new page, not the old one
        page.click("form.search button")
    assert page.locator("#no-twins").is_visible()
    assert page.csp_errors == []  # type: ignore[attr-defined]


def test_pages_follow_a_cursor(site: ConsoleSite) -> None:
    with session_scope(site.stack.runtime.engine) as s:
        seen: list[int] = []
        cursor = None
        while True:
            rows, cursor = page_of_twins(s, site.a_brand, cursor=cursor, limit=4)
            seen += [r.token_id for r in rows]
            if cursor is None:
                break
        assert seen == sorted((t["token_id"] for t in site.twins), reverse=True)
        assert page_of_twins(s, site.a_brand, "%", "name")[0] == []  # a wildcard is a character, not a pattern
    with site.http(site.member(site.a_brand, StaffRole.analyst)) as client:
        assert client.get("/console/twins", params={"cursor": "not-ours"}).status_code == 422


def test_a_twins_page(site: ConsoleSite, browser: Browser) -> None:
    token = site.twins[0]["token_id"]
    page = console_page(browser, site, site.member(site.a_brand, StaffRole.analyst), "en")
    page.goto(f"{site.url}/console/twins")
    page.click(f"a[href='/console/twins/{site.collection}/{token}']")
    page.wait_for_url(f"**/console/twins/{site.collection}/{token}")
    assert page.text_content("h1") == site.twins[0]["name"]
    assert "Minted" in page.text_content("#events")
    passport = page.text_content("#passport") or ""
    assert "Country of origin" in passport and "France" in passport and "gtin" not in passport
    scans = page.locator("#scans li").all_text_contents()
    # Newest first: the replayed tap's page view (the tap redirects to the page), then the tap itself.
    assert len(scans) >= 3 and "from an NFC tag" in scans[0] and scans[1].startswith("NFC tap")
    assert any("Verification API" in line for line in scans)
    assert "signature valid" in page.text_content("#scans")
    assert page.locator(f"#twin-alerts a[href='/console/alerts/{site.alert}']").count() == 1
    assert site.chip.address.lower() in page.text_content("#tags").lower()  # stored checksummed
    svg = page.request.get(site.url + str(page.get_attribute("#label-svg", "href")))
    assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert fits_tablet(page)
    page.click("#buyer-page")
    page.wait_for_url(f"**/t/{site.collection}/{token}")
    assert page.locator("[data-authentic='true']").count() >= 1
    assert page.csp_errors == []  # type: ignore[attr-defined]


def test_another_brands_twin_is_not_found(site: ConsoleSite) -> None:
    with site.http(site.member(site.a_brand, StaffRole.operator)) as client:
        assert client.get(f"/console/twins/{site.b_collection}/{site.b_token}").status_code == 404
        listed = client.get("/console/twins", params={"q": "OTH-001", "field": "serial"})
        assert listed.status_code == 200 and 'id="no-twins"' in listed.text and site.b_collection not in listed.text
    with site.http(site.member(site.b_brand, StaffRole.analyst)) as client:
        assert client.get(f"/console/twins/{site.b_collection}/{site.b_token}").status_code == 200
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        assert anonymous.get(f"/console/twins/{site.collection}/{site.twins[0]['token_id']}").status_code == 401


def test_no_serious_accessibility_violation(site: ConsoleSite, browser: Browser) -> None:
    token = site.twins[0]["token_id"]
    for lang in LANGS:
        page = console_page(browser, site, site.member(site.a_brand, StaffRole.analyst), lang, axe=True)
        for path in ("/console/twins", f"/console/twins/{site.collection}/{token}"):
            page.goto(f"{site.url}{path}?lang={lang}")
            assert axe_serious(page) == [], (lang, path)
        if lang == "zh-CN":
            assert "所有者与事件" in page.text_content("#events-h") and "NFC 触碰" in page.text_content("#scans")
