"""The Security page in real Chromium: an analyst refused an admin action (and the refusal in the
admin's audit log), an admin inviting, changing a role and walking the compromise confirmation, and
axe-core on the page in both languages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from registry.staff.models import StaffRole
from tests.api.conftest import Stack, running_stack, stack_settings
from tests.pages.conftest import AXE, serve_on
from tests.support.console import SignedIn, sign_in


@dataclass
class Console:
    stack: Stack
    url: str
    brand_id: str
    brand: dict[str, str]

    def member(self, role: StaffRole, name: str) -> SignedIn:
        return sign_in(self.stack.runtime.engine, self.stack.runtime.settings, self.brand_id, role, name=name)

    def open(self, browser: Browser, who: SignedIn, path: str, **context: Any) -> Page:
        ctx = browser.new_context(**context)
        ctx.add_cookies([{"name": who.cookie_name, "value": who.cookie, "url": self.url}])
        page = ctx.new_page()
        page.goto(self.url + path)
        return page


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    anvil = Anvil()
    anvil.start()
    port = free_port()
    settings = stack_settings(tmp_path_factory.mktemp("console-security"), anvil, public_url=f"http://localhost:{port}")
    with running_stack(settings, anvil) as stack, serve_on(create_app(runtime=stack.runtime), port):
        headers, _ = stack.new_brand("Maison Aurèle", "MAUR")
        brand_id = stack.client.get("/v1/brands/me", headers=headers).json()["id"]
        yield Console(stack, f"http://localhost:{port}", brand_id, headers)


def test_an_analyst_is_refused_and_the_admin_sees_it(console: Console, browser: Browser) -> None:
    analyst = console.member(StaffRole.analyst, "Curious Analyst")
    page = console.open(browser, analyst, "/console/sessions")
    # The page's own script context, with the analyst's real CSRF token: only the role is missing.
    answer = page.evaluate(
        """async () => {
            const csrf = document.querySelector('meta[name=csrf-token]').content;
            const r = await fetch('/console/security/invites', {method: 'POST',
                headers: {'X-CSRF-Token': csrf, 'Content-Type': 'application/x-www-form-urlencoded'},
                body: 'name=Mallory&role=admin'});
            return {status: r.status, type: (await r.json()).type};
        }"""
    )
    assert answer == {"status": 403, "type": "https://twinmark.dev/problems/console-role-refused"}
    refused = page.goto(console.url + "/console/security")
    assert refused is not None and refused.status == 403
    assert "Your role does not allow this." in page.inner_text("main")
    page.context.close()

    admin = console.member(StaffRole.admin, "Head of Security")
    log = console.open(browser, admin, "/console/security")
    log.select_option("#f-outcome", "refused")
    log.click("text=Filter")
    rows = log.locator("#audit tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t")[1:4] == ["Curious Analyst", "GET /console/security", "refused"]
    assert "POST /console/security/invites" in rows.nth(1).inner_text() and "needs admin" in rows.nth(1).inner_text()
    assert "Mallory" not in log.inner_text("#staff") + log.inner_text("main")
    log.context.close()


def test_an_admin_invites_changes_a_role_and_confirms_a_compromise(console: Console, browser: Browser) -> None:
    admin = console.member(StaffRole.admin, "Admin")
    operator = console.member(StaffRole.operator, "Ops Person")
    page = console.open(browser, admin, "/console/security")
    page.fill("#invite-name", "王伟")
    page.select_option("#invite-role", "operator")
    page.click("text=Create invite link")
    link = page.input_value("#new-link")
    assert "/console/join/" in link and "#" in link
    page.goto(console.url + "/console/security")
    assert page.locator("#new-link").count() == 0 and "王伟" in page.inner_text("#invites")

    page.select_option(f"#role-{operator.staff_id}", "analyst")
    page.locator(f'tr[data-staff="{operator.staff_id}"] button:has-text("Change role")').click()
    page.wait_for_url(console.url + "/console/security")
    assert page.input_value(f"#role-{operator.staff_id}") == "analyst"

    page.fill("#since", "2026-02-01T08:00")
    page.click("text=Review the report")
    assert "do not trust it" in page.inner_text("blockquote.buyer")
    assert console.stack.client.get("/v1/brands/me", headers=console.brand).status_code == 200
    page.check("#confirm-box")
    page.click("#confirm-compromise")
    assert "Compromise reported" in page.inner_text("#compromise")
    assert console.stack.client.get("/v1/brands/me", headers=console.brand).status_code == 401
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_serious_accessibility_violation(console: Console, browser: Browser, lang: str) -> None:
    admin = console.member(StaffRole.admin, f"Admin {lang}")
    page = console.open(browser, admin, f"/console/security?lang={lang}", locale=lang, bypass_csp=True)
    page.fill("#invite-name", "Lin")
    page.click("#invites-heading ~ form button")  # the page as it shows a new link, with content in every table
    page.fill("#since", "2026-02-01T08:00")
    page.click("#compromise form button")  # and the confirmation step
    assert page.get_attribute("html", "lang") == lang
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious
    assert result["testEngine"]["name"] == "axe-core" and len(result["passes"]) > 10
    page.context.close()
