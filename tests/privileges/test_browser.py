"""In real Chromium (one SQLite stack, served by uvicorn): the console's privileges pages, the owner's
receipt page and the buyer's page's privileges section run without a CSP violation, and axe-core finds
no serious or critical violation in English or Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from api.main import create_app
from registry.chain.anvil import Anvil
from registry.staff.models import StaffRole
from tests.api.conftest import Stack, running_stack, stack_settings
from tests.pages.conftest import AXE
from tests.privileges.conftest import World, session_of
from tests.support.console import sign_in
from tests.support.server import serve

LANGS = ("en", "zh-CN")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """SQLite only: the browser checks markup; the stores are exercised by the other files."""
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(tmp_path_factory.mktemp("priv-browser"), anvil, siwe_failures_per_minute=1_000)
    with running_stack(settings, anvil) as running:
        yield running


@pytest.fixture(scope="module")
def site(world: World) -> Iterator[dict[str, Any]]:
    owner, token = world.owned_twin()
    pid = world.privilege(name={"en": "Atelier visit", "zh": "工坊参观"}, description={"en": "A visit", "zh": "参观"})
    r = world.stack.client.post(
        f"/v1/privileges/{pid}/redeem",
        json={"collection": world.collection, "token_id": token},
        headers=session_of(world.stack, owner),
    )
    assert r.status_code == 201, r.text
    with serve(create_app(runtime=world.stack.runtime)) as url:
        yield {"url": url, "pid": pid, "token": token, "receipt": r.json()["receipt"]}


def _axe(page: Page, context: str = "document") -> list[tuple[str, str, list[Any]]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(f"axe.run({context}, {{resultTypes: ['violations']}})")
    assert result["testEngine"]["name"] == "axe-core"
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _page(browser: Browser, url: str, lang: str, *, axe: bool, cookie: tuple[str, str] | None = None) -> Page:
    ctx = browser.new_context(locale=lang, bypass_csp=axe)
    if cookie:
        ctx.add_cookies([{"name": cookie[0], "value": cookie[1], "url": url}])
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.csp_errors = errors  # type: ignore[attr-defined]
    return page


def test_console_pages_are_accessible_in_both_languages(world: World, site: dict[str, Any], browser: Browser) -> None:
    rt = world.stack.runtime
    brand_id = world.stack.client.get("/v1/brands/me", headers=world.brand).json()["id"]
    member = sign_in(rt.engine, rt.settings, brand_id, StaffRole.operator)  # the operator sees every form
    cookie = (member.cookie_name, member.cookie)
    for path in ("/console/privileges", f"/console/privileges/{site['pid']}"):
        page = _page(browser, site["url"], "en", axe=False, cookie=cookie)
        page.goto(f"{site['url']}{path}")
        assert "Atelier visit" in page.content() and page.csp_errors == []  # type: ignore[attr-defined]
        page.context.close()
        for lang in LANGS:
            page = _page(browser, site["url"], lang, axe=True, cookie=cookie)
            page.goto(f"{site['url']}{path}?lang={lang}")
            assert page.get_attribute("html", "lang") == lang
            assert _axe(page) == [], (lang, path)
            page.context.close()


def test_the_receipt_page_and_the_buyers_section(world: World, site: dict[str, Any], browser: Browser) -> None:
    page = _page(browser, site["url"], "en", axe=False)
    page.goto(f"{site['url']}/receipt?r={site['receipt']}")
    assert page.evaluate("document.getElementById('receipt-qr').naturalWidth") > 100  # the QR rendered
    assert page.csp_errors == []  # type: ignore[attr-defined]
    page.context.close()
    for lang in LANGS:
        page = _page(browser, site["url"], lang, axe=True)
        page.goto(f"{site['url']}/receipt?lang={lang}&r={site['receipt']}")
        assert _axe(page) == [], lang
        page.goto(f"{site['url']}/t/{world.collection}/{site['token']}?lang={lang}")
        assert page.locator("#privileges li").count() >= 1
        assert _axe(page, "'#privileges'") == [], lang
        page.context.close()
