"""Passkeys in real Chromium, through CDP virtual authenticators (CTAP2, internal, resident keys, user
verification): joining from an invite, signing in from a fresh browser, and the attacks: a reused
invite, a replayed assertion, a cloned authenticator, a planted session cookie, a form posted from
another origin, and "sign out everywhere" reaching another browser. axe-core on the sign-in and join
pages in both languages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from registry.db.engine import session_scope
from registry.staff.models import AuditEntry, StaffMember, StaffPasskey, StaffRole, StaffSession
from registry.staff.sessions import _digest, open_session
from tests.api.conftest import Stack, running_stack, stack_settings
from tests.pages.conftest import AXE, serve_on
from tests.support.console import sign_in
from tests.support.virtual_authenticator import with_authenticator


@dataclass
class Console:
    stack: Stack
    url: str  # http://localhost:<port>: WebAuthn needs a domain for its RP id (never an IP address)
    brand_id: str
    brand: dict[str, str]

    def invite(self, name: str, role: str = "admin") -> dict[str, Any]:
        r = self.stack.client.post("/v1/brands/me/staff/invites", json={"name": name, "role": role}, headers=self.brand)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def audit(self, **where: Any) -> list[AuditEntry]:
        with session_scope(self.stack.runtime.engine) as s:
            query = select(AuditEntry).where(col(AuditEntry.brand_id) == self.brand_id)
            for name, value in where.items():
                query = query.where(getattr(AuditEntry, name) == value)
            rows = list(s.exec(query.order_by(col(AuditEntry.id))))
            for row in rows:
                s.expunge(row)
            return rows


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    anvil = Anvil()
    anvil.start()
    port = free_port()
    settings = stack_settings(tmp_path_factory.mktemp("console-auth"), anvil, public_url=f"http://localhost:{port}")
    with running_stack(settings, anvil) as stack, serve_on(create_app(runtime=stack.runtime), port):
        headers, _ = stack.new_brand("Maison Aurèle", "MAUR")
        brand_id = stack.client.get("/v1/brands/me", headers=headers).json()["id"]
        yield Console(stack, f"http://localhost:{port}", brand_id, headers)


def ceremony_state(page: Page) -> str:
    page.wait_for_function(
        "() => ['refused', 'invalid', 'limited', 'unsupported', 'cancelled'].includes("
        "document.getElementById('ceremony-status').dataset.state)"
    )
    return str(page.get_attribute("#ceremony-status", "data-state"))


@dataclass
class Joined:
    link: str
    staff_id: str
    context: BrowserContext
    credential: dict[str, Any]  # as the authenticator held it right after registration


@pytest.fixture(scope="module")
def joined(console: Console, browser: Browser) -> Iterator[Joined]:
    made = console.invite("Chloé Martin")
    ctx, page, auth = with_authenticator(browser)
    page.goto(made["link"])
    page.click("#passkey-button")
    page.wait_for_url(f"{console.url}/console")
    assert page.url == f"{console.url}/console"  # the secret left the address bar
    (credential,) = auth.credentials()
    assert credential["isResidentCredential"] and credential["rpId"] == "localhost"
    with session_scope(console.stack.runtime.engine) as s:
        member = s.exec(select(StaffMember).where(col(StaffMember.brand_id) == console.brand_id)).one()
        assert (member.name, member.role) == ("Chloé Martin", "admin")
        assert s.get(StaffPasskey, credential["credentialId"].rstrip("=").replace("+", "-").replace("/", "_"))
        staff_id = member.id
    yield Joined(made["link"], staff_id, ctx, credential)
    ctx.close()


def test_an_invite_works_once(console: Console, browser: Browser, joined: Joined) -> None:
    ctx, page, auth = with_authenticator(browser)
    page.goto(joined.link)
    page.click("#passkey-button")
    assert ceremony_state(page) == "invalid"
    assert auth.credentials() == []  # refused before the authenticator was asked
    with session_scope(console.stack.runtime.engine) as s:
        assert len(s.exec(select(StaffMember).where(col(StaffMember.brand_id) == console.brand_id)).all()) == 1
    ctx.close()


def _signed_in_cookie(ctx: BrowserContext) -> str | None:
    return next((c["value"] for c in ctx.cookies() if c["name"] == "tm_console"), None)


def test_sign_in_from_a_fresh_browser_never_keeps_a_planted_cookie(
    console: Console, browser: Browser, joined: Joined
) -> None:
    ctx, page, auth = with_authenticator(browser)
    auth.add(joined.credential)  # the same passkey, synced to another browser
    planted = "planted-by-an-attacker-0123456789abcdef0123456789"
    ctx.add_cookies([{"name": "tm_console", "value": planted, "url": console.url}])
    page.goto(f"{console.url}/console/sessions")
    assert page.url.startswith(f"{console.url}/console/sign-in?next=/console/sessions")  # planted grants nothing
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.url.endswith("/console/api/sign-in") else None)
    page.click("#passkey-button")
    page.wait_for_url(f"{console.url}/console/sessions")
    assert "Chloé Martin" in page.inner_text("header")
    cookie = _signed_in_cookie(ctx)
    assert cookie and cookie != planted
    flags = next(c for c in ctx.cookies() if c["name"] == "tm_console")
    assert flags["httpOnly"] and flags["sameSite"] == "Strict" and flags["path"] == "/"
    with session_scope(console.stack.runtime.engine) as s:
        assert s.get(StaffSession, _digest(planted)) is None
        assert s.get(StaffSession, _digest(cookie)) is not None
    planted_try = httpx.get(
        f"{console.url}/console/sessions", cookies={"tm_console": planted}, headers={"Accept": "text/html"}
    )
    assert planted_try.status_code == 303

    # The same signed assertion, replayed: its challenge is spent.
    (body,) = posted
    replay = httpx.post(
        f"{console.url}/console/api/sign-in",
        content=body,
        headers={"Content-Type": "application/json", "Origin": console.url},
    )
    assert replay.status_code == 401, replay.text
    assert replay.json()["type"].endswith("/console-sign-in-refused") and "set-cookie" not in replay.headers
    assert "already used" in replay.json()["detail"]  # the challenge, before the counter is even read
    ctx.close()


def test_a_cloned_authenticator_is_refused(console: Console, browser: Browser, joined: Joined) -> None:
    """A copy of the key made before the real one was used again: its counter is behind."""
    with session_scope(console.stack.runtime.engine) as s:
        stored = s.exec(select(StaffPasskey).where(col(StaffPasskey.staff_id) == joined.staff_id)).one().sign_count
    assert stored > joined.credential["signCount"]  # the virtual authenticator counts (no always-0 key)
    ctx, page, auth = with_authenticator(browser)
    auth.add(joined.credential)
    page.goto(f"{console.url}/console/sign-in")
    with page.expect_response(f"{console.url}/console/api/sign-in") as answered:
        page.click("#passkey-button")
    assert answered.value.status == 401 and "sign count" in answered.value.json()["detail"].lower()
    assert ceremony_state(page) == "refused"
    assert _signed_in_cookie(ctx) is None
    ctx.close()


def _attacker(target: str, fields: dict[str, str]) -> Starlette:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    html = (
        f'<!doctype html><title>win a bag</title><form id="f" method="post" action="{target}">{inputs}</form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    return Starlette(routes=[Route("/", lambda request: HTMLResponse(html))])


def test_a_form_posted_from_another_origin_is_refused_and_audited(
    console: Console, browser: Browser, joined: Joined
) -> None:
    engine, settings = console.stack.runtime.engine, console.stack.runtime.settings
    victim = sign_in(engine, settings, console.brand_id, StaffRole.analyst, name="Victim")
    ctx = browser.new_context()
    page = ctx.new_page()
    # The admin's own session (cookie SameSite=Strict; the attacker below is same-site, another port,
    # so the browser does send it: only the CSRF token and the Origin check stand in the way).
    opened = sign_in(engine, settings, console.brand_id, StaffRole.admin, name="Admin in a hurry")
    ctx.add_cookies([{"name": "tm_console", "value": opened.cookie, "url": console.url}])
    port = free_port()
    target = f"{console.url}/console/security/staff/{victim.staff_id}/disable"
    with serve_on(_attacker(target, {"csrf": "guessed"}), port):
        with page.expect_response(target) as answered:
            page.goto(f"http://localhost:{port}/")
        assert answered.value.status == 403
    page.wait_for_load_state()
    assert "expired" in page.inner_text("main")  # the readable refusal page
    with session_scope(engine) as s:
        member = s.get(StaffMember, victim.staff_id)
        assert member is not None and member.disabled_at is None
    refusals = console.audit(staff_id=opened.staff_id, outcome="refused")
    assert [(e.action, e.detail) for e in refusals] == [
        (f"POST /console/security/staff/{victim.staff_id}/disable", "csrf")
    ]
    ctx.close()


def test_sign_out_everywhere_ends_another_browsers_session(console: Console, browser: Browser, joined: Joined) -> None:
    engine, settings = console.stack.runtime.engine, console.stack.runtime.settings
    other = sign_in(engine, settings, console.brand_id, StaffRole.operator, name="Two Browsers")
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    for ctx in (ctx_a, ctx_b):
        opened = open_session(engine, other.staff_id, hours=1)
        ctx.add_cookies([{"name": "tm_console", "value": opened.cookie, "url": console.url}])
    a, b = ctx_a.new_page(), ctx_b.new_page()
    b.goto(f"{console.url}/console/sessions")
    assert b.url == f"{console.url}/console/sessions"
    a.goto(f"{console.url}/console/sessions")
    assert a.locator("#own-sessions + table tbody tr").count() >= 3
    a.click("text=Sign out everywhere")
    a.wait_for_url(f"{console.url}/console/sign-in")
    b.goto(f"{console.url}/console/sessions")
    assert b.url.startswith(f"{console.url}/console/sign-in?next=")
    assert [e.action for e in console.audit(staff_id=other.staff_id)] == ["session.sign-out-everywhere"]
    ctx_a.close()
    ctx_b.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("path", ["/console/sign-in", "/console/join/some-invite"])
def test_no_serious_accessibility_violation(console: Console, browser: Browser, lang: str, path: str) -> None:
    ctx = browser.new_context(locale=lang, bypass_csp=True)  # axe is injected as a script
    page = ctx.new_page()
    page.goto(f"{console.url}{path}?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious
    assert result["testEngine"]["name"] == "axe-core" and len(result["passes"]) > 5
    ctx.close()


def test_the_page_scripts_use_no_inline_code(console: Console) -> None:
    page = httpx.get(f"{console.url}/console/sign-in")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "style=" not in page.text
    assert json.dumps("/static/console/auth.js")[1:-1] in page.text
