"""The console's Owners area over a real served stack (Anvil, SQLite, uvicorn) in real Chromium: an
analyst sees the brand's current consents with exactly the shared details, downloads them as CSV and
JSON, and each view and download is audited and logged; another brand's member sees none of them;
the page runs under the strict CSP with no violation and axe-core finds no serious violation in
English or Chinese."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader
from playwright.sync_api import Browser, Page
from sqlmodel import select

import api
from api.console.render import CSP
from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from registry.consent.models import ConsentExport
from registry.consent.texts import partial_context
from registry.db.engine import session_scope
from registry.staff.models import AuditEntry, StaffRole
from tests.api.conftest import Stack, running_stack, stack_settings
from tests.consent.conftest import CONTACT
from tests.consent.test_consent_http import Brand, ask, grant, session
from tests.console.pages_site import LANGS, axe_serious
from tests.siwe.conftest import personal_sign
from tests.support.console import SignedIn, sign_in
from tests.support.server import serve


@dataclass
class Site:
    stack: Stack
    url: str
    a: Brand
    b: Brand
    owner: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("consent-console")
    anvil = Anvil()
    anvil.start()
    port = free_port()
    settings = stack_settings(tmp, anvil, public_url=f"http://127.0.0.1:{port}", trusted_proxies="127.0.0.1")
    with running_stack(settings, anvil) as stack, serve(with_owner_page(stack), port, settings) as url:
        a, b = Brand(stack, "Maison Aurele", "FR"), Brand(stack, "Other House", "CN")
        owner = Account.create()
        me = session(stack, owner)
        a.give(owner.address)
        text = ask(stack, me, a, ["email", "language"])["message"]
        shared = {"email": CONTACT["email"], "language": "zh-CN"}
        assert grant(stack, me, text, personal_sign(owner, text), shared).status_code == 201
        yield Site(stack, url, a, b, owner.address)


def with_owner_page(stack: Stack) -> FastAPI:
    """The app, plus a bare owner page that includes the consent block as the owner page would."""
    app = create_app(runtime=stack.runtime)
    templates = Environment(loader=FileSystemLoader(Path(api.__file__).parent / "templates"), autoescape=True)

    @app.get("/test/owner/{brand_id}", response_class=HTMLResponse)
    def owner_page(brand_id: str, lang: str = "en") -> HTMLResponse:
        block = templates.get_template("_consent.html").render(partial_context(lang, brand_id, "Maison Aurele"))
        page = f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Owner</title>'
        page += '<link rel="stylesheet" href="/static/consent.css"><script src="/static/consent.js" defer></script>'
        page += "</head><body><main>" + block + "</main></body></html>"
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP})

    return app


def member(site: Site, brand: Brand, role: StaffRole = StaffRole.analyst) -> SignedIn:
    rt = site.stack.runtime
    return sign_in(rt.engine, rt.settings, brand.id, role)


def audit(site: Site, staff_id: str) -> list[tuple[str, str | None]]:
    with session_scope(site.stack.runtime.engine) as s:
        return [(e.action, e.detail) for e in s.exec(select(AuditEntry).where(AuditEntry.staff_id == staff_id))]


def test_an_analyst_sees_and_exports_only_the_shared_details_audited(site: Site) -> None:
    analyst = member(site, site.a)
    with httpx.Client(base_url=site.url, cookies=analyst.cookies(), timeout=30) as client:
        page = client.get("/console/owners")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert site.owner in page.text and CONTACT["email"] in page.text and CONTACT["phone"] not in page.text
        table = list(csv.DictReader(io.StringIO(client.get("/console/owners/export.csv").text)))
        assert [(r["address"], r["email"], r["language"], r["phone"]) for r in table] == [
            (site.owner, CONTACT["email"], "zh-CN", "")
        ]
        document = client.get("/console/api/owners/export").json()
        assert [r["contact"] for r in document["rows"]] == [{"email": CONTACT["email"], "language": "zh-CN"}]
    assert audit(site, analyst.staff_id) == [
        ("owners.view", "page, 1 rows"),
        ("owners.export", "csv, 1 rows"),
        ("owners.export", "json, 1 rows"),
    ]
    with session_scope(site.stack.runtime.engine) as s:
        logged = s.exec(select(ConsentExport).where(ConsentExport.actor == f"staff:{analyst.staff_id}")).all()
    assert [(e.format, e.rows) for e in logged] == [("csv", 1), ("json", 1)]


def test_another_brands_member_sees_none_of_them(site: Site) -> None:
    other = member(site, site.b, StaffRole.admin)
    with httpx.Client(base_url=site.url, cookies=other.cookies(), timeout=30) as client:
        page = client.get("/console/owners")
        assert page.status_code == 200 and 'id="no-owners"' in page.text and site.owner not in page.text
        assert client.get("/console/api/owners/export").json()["rows"] == []
        assert site.owner not in client.get("/console/owners/export.csv").text
    with httpx.Client(base_url=site.url, timeout=30, follow_redirects=False) as anonymous:
        assert anonymous.get("/console/api/owners/export").status_code in (302, 303, 401)


def test_the_page_in_chromium_both_languages(site: Site, browser: Browser) -> None:
    analyst = member(site, site.a)
    for lang in LANGS:
        for bypass in (False, True):  # the CSP as served, then axe-core injected past it
            ctx = browser.new_context(locale=lang, bypass_csp=bypass)
            ctx.add_cookies([{"name": analyst.cookie_name, "value": analyst.cookie, "url": site.url}])
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m, seen=errors: seen.append(m.text))
            page.goto(f"{site.url}/console/owners?lang={lang}")
            assert page.get_attribute("html", "lang") == lang
            assert page.locator("#owners tbody tr").count() == 1
            assert page.get_attribute("nav.sections a[aria-current='page']", "href") == "/console/owners"
            if bypass:
                assert axe_serious(page) == [], lang
            else:
                assert [e for e in errors if "Content Security Policy" in e] == []
            ctx.close()
    zh = browser.new_context(locale="zh-CN")
    zh.add_cookies([{"name": analyst.cookie_name, "value": analyst.cookie, "url": site.url}])
    page = zh.new_page()
    page.goto(f"{site.url}/console/owners?lang=zh-CN")
    assert page.text_content("h1") == "已同意的物主" and "未共享" in page.text_content("#owners")
    zh.close()


def owner_in(browser: Browser, site: Site, owner: LocalAccount, lang: str, *, axe: bool = False) -> Page:
    """A browser with the owner's session in sessionStorage and a wallet that personal_signs in Python."""
    token = session(site.stack, owner)["Authorization"].removeprefix("Bearer ")
    page = browser.new_context(locale=lang, bypass_csp=axe).new_page()

    def personal_sign(data: str, address: str) -> str:
        assert address == owner.address
        signed = Account.sign_message(encode_defunct(hexstr=data), owner.key)
        return "0x" + bytes(signed.signature).hex()

    page.expose_function("__sign", personal_sign)
    page.add_init_script(
        f"sessionStorage.setItem('tm_player_session', {token!r});"
        "window.ethereum = {request: ({method, params}) => method === 'personal_sign'"
        " ? window.__sign(params[0], params[1]) : Promise.reject(new Error(method))};"
    )
    return page


def test_an_owner_shares_signs_twice_for_china_and_revokes_in_the_block(site: Site, browser: Browser) -> None:
    owner = Account.create()
    site.a.give(owner.address)
    page = owner_in(browser, site, owner, "en")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text))
    page.goto(f"{site.url}/test/owner/{site.a.id}")
    assert page.locator("#consent-none").is_visible()
    page.check("#consent-share-phone")
    page.fill("#consent-value-phone", "+86 139 0000 0000")
    page.select_option("#consent-purpose", "events")
    page.check("#consent-cn")
    page.click("#consent-prepare")
    page.wait_for_selector("#consent-review:not([hidden])")
    assert "+86" not in page.text_content("#consent-message")  # the message holds no contact detail
    assert "'consent': 'share'" in page.text_content("#consent-message")
    assert "Maison Aurele SAS" in page.text_content("#consent-notice-en") and page.text_content("#consent-notice-zh")
    page.click("#consent-sign")
    page.wait_for_selector("#consent-cross-border-note:not([hidden])")
    assert "第三十九条" in page.text_content("#consent-notice-zh")
    assert all(r["address"] != owner.address for r in site.a.export())  # not before the second signature
    page.click("#consent-sign")
    page.wait_for_selector("#consent-mine li[data-state='current']")
    assert [r["contact"] for r in site.a.export() if r["address"] == owner.address] == [{"phone": "+86 139 0000 0000"}]
    page.click("#consent-mine li[data-state='current'] button")
    page.wait_for_selector("#consent-mine li[data-state='revoked']")
    assert all(r["address"] != owner.address for r in site.a.export())
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_the_owner_block_has_no_serious_accessibility_violation(site: Site, browser: Browser) -> None:
    for lang in LANGS:
        page = owner_in(browser, site, Account.create(), lang, axe=True)
        page.goto(f"{site.url}/test/owner/{site.a.id}?lang={lang}")
        page.check("#consent-share-email")
        assert axe_serious(page) == [], lang
