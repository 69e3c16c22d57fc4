"""The console's alerts in real Chromium over a seeded brand whose cloned HaLo tap was raised by the
runtime's alert worker: the inbox and its filters, an alert's evidence (the rule's figures, the tap
evidence, the chain block), an operator clearing it in the browser and the buyer's page losing its
caution at once; an analyst sees no button and the POST is refused (and audited); a request without
the CSRF token or from another origin is refused; another brand's alert is not found; axe-core finds
no serious violation in English or Chinese."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.staff.models import AuditEntry, StaffRole
from tests.console.pages_site import (
    LANGS,
    ConsoleSite,
    axe_serious,
    console_page,
    console_site,
    fits_tablet,
)

__all__ = ["console_site"]  # the module's fixture (site; the browser is tests/conftest.py's)


def _state(site: ConsoleSite, headers: dict[str, str], alert: int) -> str:
    r = httpx.get(f"{site.url}/v1/alerts/{alert}", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["state"])


def _audit(site: ConsoleSite, staff_id: str) -> list[tuple[str, str | None, str, str | None]]:
    with session_scope(site.stack.runtime.engine) as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.staff_id == staff_id).order_by(col(AuditEntry.id)))
        return [(r.action, r.target, r.outcome, r.detail) for r in rows]


def test_the_inbox_filters_and_an_alerts_evidence(site: ConsoleSite, browser: Browser) -> None:
    page = console_page(browser, site, site.member(site.a_brand, StaffRole.analyst), "en")
    page.goto(f"{site.url}/console/alerts")
    rows = page.locator("#alerts tbody tr").evaluate_all("rows => rows.map(r => r.dataset.alert)")
    assert str(site.alert) in rows and str(site.b_alert) not in rows
    page.select_option("#state", "resolved")
    with page.expect_navigation():  # a GET form: read the new page, not the old one
        page.click("form.search button")
    assert page.locator("#no-alerts").is_visible() and "state=resolved" in page.url
    page.select_option("#state", "open")
    page.select_option("#rule", "nfc-counter")
    page.select_option("#collection", site.collection)
    with page.expect_navigation():  # a GET form: read the new page, not the old one
        page.click("form.search button")
    assert page.locator("#alerts tbody tr").evaluate_all("rows => rows.map(r => r.dataset.alert)") == [str(site.alert)]
    page.click(f"tr[data-alert='{site.alert}'] th a")
    page.wait_for_url(f"**/console/alerts/{site.alert}")
    assert "the same tap was seen twice" in page.text_content("#summary")
    assert page.get_attribute("#alert-state", "data-state") == "open"
    assert '"counters"' in page.text_content("#facts")
    assert '"block_hash"' in page.text_content("#chain") and '"chain_id": 31337' in page.text_content("#chain")
    evidence = page.locator("#alert-scans details pre").all_text_contents()
    assert evidence and all('"rnd"' in e or '"digest"' in e or "sig" in e for e in evidence)
    assert page.locator("#alert-scans li").count() >= 2  # the genuine tap and its replay
    # An analyst reads; closing is an operator's: no form, a sentence saying so.
    assert page.locator("#resolve-form").count() == 0 and page.locator("#read-only").is_visible()
    assert fits_tablet(page)
    export = page.request.get(f"{site.url}/console/api/alerts/{site.alert}/export")
    assert export.status == 200 and export.json()["format"] == "twinmark-alert/1"
    assert page.csp_errors == []  # type: ignore[attr-defined]


def test_no_serious_accessibility_violation(site: ConsoleSite, browser: Browser) -> None:
    for lang in LANGS:
        for role in (StaffRole.analyst, StaffRole.operator):
            page = console_page(browser, site, site.member(site.a_brand, role), lang, axe=True)
            for path in ("/console/alerts", f"/console/alerts/{site.alert}"):
                page.goto(f"{site.url}{path}?lang={lang}")
                assert page.get_attribute("html", "lang") == lang
                page.locator("details summary").evaluate_all("all => all.forEach(s => s.click())")
                assert axe_serious(page) == [], (lang, role, path)
    zh = console_page(browser, site, site.member(site.a_brand, StaffRole.operator), "zh-CN")
    zh.goto(f"{site.url}/console/alerts/{site.alert}?lang=zh-CN")
    assert "同一次触碰被看到了两次" in zh.text_content("#summary") and zh.text_content("#clear") == "清除（误报）"  # noqa: RUF001


def test_an_analyst_is_refused_and_the_refusal_audited(site: ConsoleSite) -> None:
    analyst = site.member(site.a_brand, StaffRole.analyst)
    with site.http(analyst) as client:
        r = client.post(
            f"/console/alerts/{site.alert}/resolve",
            data={"csrf": analyst.csrf, "outcome": "cleared"},
            headers={"Origin": site.url},
        )
    assert r.status_code == 403 and r.json()["type"].endswith("console-role-refused")
    assert _state(site, site.a, site.alert) == "open"
    assert (f"POST /console/alerts/{site.alert}/resolve", None, "refused", "needs operator") in _audit(
        site, analyst.staff_id
    )


def test_a_forged_request_is_refused(site: ConsoleSite) -> None:
    operator = site.member(site.a_brand, StaffRole.operator)
    path = f"/console/alerts/{site.alert}/resolve"
    with site.http(operator) as client:
        # A page elsewhere posting the form with the member's cookie: no token, or not our origin.
        no_token = client.post(path, data={"outcome": "cleared"}, headers={"Origin": site.url})
        wrong_token = client.post(path, data={"csrf": "0" * 64, "outcome": "cleared"}, headers={"Origin": site.url})
        elsewhere = client.post(
            path, data={"csrf": operator.csrf, "outcome": "cleared"}, headers={"Origin": "https://evil.example"}
        )
    for r in (no_token, wrong_token, elsewhere):
        assert r.status_code == 403 and r.json()["type"].endswith("console-csrf-refused"), r.text
    assert _state(site, site.a, site.alert) == "open"


def test_another_brands_alert_is_not_found(site: ConsoleSite) -> None:
    operator = site.member(site.a_brand, StaffRole.operator)
    with site.http(operator) as client:
        assert client.get(f"/console/alerts/{site.b_alert}").status_code == 404
        assert client.get(f"/console/api/alerts/{site.b_alert}/export").status_code == 404
        r = client.post(
            f"/console/alerts/{site.b_alert}/resolve",
            data={"csrf": operator.csrf, "outcome": "cleared"},
            headers={"Origin": site.url},
        )
        assert r.status_code == 404, r.text
        filtered = client.get("/console/alerts", params={"collection": site.b_collection})  # ignored, not obeyed
        assert f'data-alert="{site.b_alert}"' not in filtered.text
    assert _state(site, site.b, site.b_alert) == "open"


def test_clearing_an_alert_restores_the_buyers_verdict(site: ConsoleSite, browser: Browser) -> None:
    token = site.twins[0]["token_id"]
    on_twin = [a["id"] for a in site.open_alerts(site.a) if a["token_id"] == token]
    assert on_twin == [site.alert]  # the one alert the buyer's caution comes from
    operator = site.member(site.a_brand, StaffRole.operator)
    page = console_page(browser, site, operator, "en")
    page.goto(f"{site.url}/t/{site.collection}/{token}")
    assert page.locator("#caution").count() == 1  # the buyer sees the caution before

    page.goto(f"{site.url}/console/alerts/{site.alert}")
    page.fill("#note-input", "Tag replaced; the replay came from our own test phone.")
    page.click("#clear")
    page.wait_for_url(f"**/console/alerts/{site.alert}")
    assert page.get_attribute("#alert-state", "data-state") == "resolved"
    assert page.text_content("#note") == "Tag replaced; the replay came from our own test phone."
    assert page.locator("#resolve-form").count() == 0
    assert page.csp_errors == []  # type: ignore[attr-defined]
    assert ("alert.clear", f"alert:{site.alert}", "ok", None) in _audit(site, operator.staff_id)

    page.goto(f"{site.url}/t/{site.collection}/{token}")
    assert page.locator("#caution").count() == 0  # the buyer's verdict, without the caution
    assert page.locator("[data-authentic='true']").count() >= 1
    verdict = httpx.get(f"{site.url}/v1/verify/{site.collection}/{token}", timeout=30).json()
    assert "caution" not in verdict or verdict["caution"] is None
    assert _state(site, site.b, site.b_alert) == "open"  # the other brand's alert untouched
