"""The console overview in real Chromium, English and Chinese, over a seeded brand (twins minted,
scans recorded through the real routes from five countries, a cloned tap raised as an alert): the
numbers are the scan-aggregates route's, the charts are drawn from the page's JSON under the strict
CSP, every chart's numbers are in a table, the range selector works, another brand's numbers never
show, axe-core finds no serious violation; screenshots at 1280x800 for the README."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser

from registry.staff.models import StaffRole
from tests.console.pages_site import (
    LANGS,
    ConsoleSite,
    axe_serious,
    console_page,
    console_site,
    fits_tablet,
)

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["console_site"]  # the module's fixture (site; the browser is tests/conftest.py's)


def _api_rows(site: ConsoleSite, days: int, by: str) -> list[dict[str, Any]]:
    """The numbers as the brand's API key reads them (`GET /v1/brands/me/scans/aggregates`)."""
    today = datetime.now(UTC).date()
    query = {"by": by, "from": str(today - timedelta(days=days - 1)), "to": str(today)}
    r = httpx.get(f"{site.url}/v1/brands/me/scans/aggregates", params=query, headers=site.a, timeout=30)
    assert r.status_code == 200, r.text
    return list(r.json()["rows"])


def _api_totals(site: ConsoleSite, days: int) -> dict[str, int]:
    rows = _api_rows(site, days, "day")
    return {name: sum(int(row.get(name) or 0) for row in rows) for name in ("scans", "sessions", "taps", "alerts")}


def test_the_overview_shows_the_brands_numbers_as_charts_and_tables(site: ConsoleSite, browser: Browser) -> None:
    analyst = site.member(site.a_brand, StaffRole.analyst)
    expected = _api_totals(site, 30)
    assert expected["scans"] >= 500 and expected["taps"] >= 50 and expected["alerts"] >= 1  # the seed is there
    assert expected["scans"] > _api_totals(site, 7)["scans"]  # a month of history
    open_alerts = site.open_alerts(site.a)
    page = console_page(browser, site, analyst, "en")
    page.goto(f"{site.url}/console")
    page.wait_for_selector("html[data-charts='drawn']")
    for name, value in expected.items():
        assert page.text_content(f".figure[data-series='{name}']") == f"{value:,}"
    assert page.text_content("#open-alerts") == str(len(open_alerts))
    newest = page.locator("ul.alerts a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert newest == [f"/console/alerts/{a['id']}" for a in open_alerts][:5]
    countries = page.locator("#table-countries tbody th").all_text_contents()
    by_country = sorted(_api_rows(site, 30, "country"), key=lambda row: (-row["scans"], row["key"]))
    names = {"FR": "France", "CN": "China", "JP": "Japan", "US": "United States", "GB": "United Kingdom"}
    assert countries == [names.get(row["key"], "Unknown") for row in by_country]  # ranked by scans
    assert countries[0] == "France"
    scans = page.locator("#table-countries tbody td:nth-child(3)").all_text_contents()
    assert scans == [f"{row['scans']:,}" for row in by_country]
    channels = dict(
        zip(
            page.locator("#table-channels tbody th").all_text_contents(),
            page.locator("#table-channels tbody td").all_text_contents(),
            strict=True,
        )
    )
    by_channel = {row["key"]: row["scans"] for row in _api_rows(site, 30, "channel")}
    assert (
        channels["NFC tap"] == f"{by_channel['tap']:,}" and channels["Verification API"] == f"{by_channel['verify']:,}"
    )
    assert page.locator("#table-days tbody tr").count() == 30
    for canvas in ("chart-activity", "chart-owners", "chart-countries", "chart-channels"):  # drawn, with pixels
        assert page.evaluate(f"Chart.getChart('{canvas}').data.datasets[0].data.length") > 0
    assert page.csp_errors == []  # type: ignore[attr-defined]

    page.click("nav.ranges a[href='/console?days=7']")
    page.wait_for_selector("html[data-charts='drawn']")
    assert page.locator("#table-days tbody tr").count() == 7
    assert page.get_attribute("nav.ranges a[aria-current='true']", "href") == "/console?days=7"


def test_the_overview_in_chinese_formats_per_locale(site: ConsoleSite, browser: Browser) -> None:
    page = console_page(browser, site, site.member(site.a_brand, StaffRole.analyst), "zh-CN")
    page.goto(f"{site.url}/console?lang=zh-CN")
    page.wait_for_selector("html[data-charts='drawn']")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert "中国" in page.locator("#table-countries tbody th").all_text_contents()
    assert "年" in page.text_content("#period") and "月" in page.text_content("#table-days tbody tr th")
    assert fits_tablet(page)
    assert page.text_content("#chart-activity") is not None and "扫描" in page.text_content("h2#time-h + div")


def test_another_brands_numbers_never_show(site: ConsoleSite) -> None:
    with site.http(site.member(site.b_brand, StaffRole.analyst)) as b:
        r = b.get("/console")
    assert r.status_code == 200
    assert f"/console/alerts/{site.b_alert}" in r.text and f"/console/alerts/{site.alert}" not in r.text
    assert "United Kingdom" not in r.text and "Japan" not in r.text  # brand A's buyers, not B's
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        assert anonymous.get("/console").status_code == 401


def test_no_serious_accessibility_violation_and_screenshots(site: ConsoleSite, browser: Browser) -> None:
    for lang in LANGS:
        page = console_page(browser, site, site.member(site.a_brand, StaffRole.analyst), lang, axe=True)
        page.goto(f"{site.url}/console?lang={lang}")
        page.wait_for_selector("html[data-charts='drawn']")
        image = page.screenshot()  # the first screen at 1280x800
        assert image.startswith(b"\x89PNG") and len(image) > 20_000
        if os.environ.get("TWINMARK_SCREENSHOTS") == "1":
            (ROOT / "docs" / f"console-overview-{lang.split('-')[0]}.png").write_bytes(image)
        page.click("details summary")  # the day table opened, as a screen reader user would
        assert axe_serious(page) == []
