"""Console sign-in without a browser, on SQLite and PostgreSQL: invites from the operator and from a
brand's key (single-use secrets stored hashed, expiry), the refusal answers (303 to sign-in for a
page, problem+json for scripts, no open redirect), idle and absolute timeouts, and the rate limit.
The passkey ceremonies themselves run in Chromium (test_auth_browser.py)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from api.console.auth import safe_next
from api.console.texts import auth as texts_auth
from api.console.texts import security as texts_security
from registry.db.columns import utcnow
from registry.db.engine import session_scope
from registry.staff.models import AuditEntry, StaffInvite, StaffRole, StaffSession
from tests.api import conftest as api
from tests.api.conftest import Stack
from tests.support.console import SignedIn, sign_in

stack = api.stack  # the module's stack, on SQLite and on PostgreSQL


def cookie(who: SignedIn) -> dict[str, str]:
    return {"Cookie": f"{who.cookie_name}={who.cookie}"}


@pytest.fixture(scope="module")
def brand(stack: Stack) -> dict[str, Any]:
    headers, _ = stack.new_brand("Maison Aurèle", "MAUR")
    me = stack.client.get("/v1/brands/me", headers=headers).json()
    return {"headers": headers, "id": me["id"]}


def _invite(stack: Stack, brand: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = stack.client.post("/v1/brands/me/staff/invites", json={"name": "Chloé", **body}, headers=brand["headers"])
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_invites_by_key_and_operator_store_only_a_hash(stack: Stack, brand: dict[str, Any]) -> None:
    made = _invite(stack, brand)
    assert made["role"] == "admin"  # how a brand gets its first admin
    base, _, secret = made["link"].partition("#")
    assert base.endswith(f"/console/join/{made['id']}") and len(secret) >= 40  # the secret is the fragment
    by_operator = stack.client.post(
        f"/v1/brands/{brand['id']}/staff/invites", json={"name": "Wei", "role": "analyst"}, headers=stack.operator
    )
    assert by_operator.status_code == 201 and by_operator.json()["role"] == "analyst"
    with session_scope(stack.runtime.engine) as s:
        row = s.get(StaffInvite, made["id"])
        assert row is not None and row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in str(row.model_dump())
        actors = {e.actor for e in s.exec(select(AuditEntry).where(col(AuditEntry.brand_id) == brand["id"]))}
    assert "operator" in actors and any(actor.startswith("key:") for actor in actors)
    # No token, a wrong operator token, an unknown brand: refused.
    assert stack.client.post("/v1/brands/me/staff/invites", json={"name": "x"}).status_code == 401
    bad = {"Authorization": "Bearer not-the-operator"}
    assert (
        stack.client.post(f"/v1/brands/{brand['id']}/staff/invites", json={"name": "x"}, headers=bad).status_code == 401
    )
    assert (
        stack.client.post("/v1/brands/nope/staff/invites", json={"name": "x"}, headers=stack.operator).status_code
        == 404
    )


def test_wrong_secret_and_expired_invites_are_refused(stack: Stack, brand: dict[str, Any]) -> None:
    made = _invite(stack, brand, role="operator")
    secret = made["link"].partition("#")[2]
    url = f"/console/api/join/{made['id']}/options"
    ok = stack.client.post(url, json={"secret": secret})
    assert ok.status_code == 200, ok.text
    options = ok.json()["options"]
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["rp"]["id"] == urlsplit(stack.runtime.settings.base_url).hostname
    wrong = stack.client.post(url, json={"secret": secret[:-2] + "xx"})
    assert wrong.status_code == 404 and wrong.json()["type"].endswith("/console-invite-invalid")
    with session_scope(stack.runtime.engine) as s:
        s.execute(
            update(StaffInvite)
            .where(col(StaffInvite.id) == made["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = stack.client.post(url, json={"secret": secret})
    assert expired.status_code == 404 and expired.json()["type"].endswith("/console-invite-invalid")


def test_a_page_sends_a_browser_to_sign_in_and_a_script_gets_a_problem(stack: Stack) -> None:
    page = stack.client.get("/console/sessions", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/sign-in?next=/console/sessions"
    form = stack.client.post(
        "/console/sign-out", data={"csrf": "x"}, headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert form.status_code == 303 and form.headers["location"] == "/console/sign-in?next=/console"
    script = stack.client.get("/console/sessions", headers={"Accept": "application/json"}, follow_redirects=False)
    assert script.status_code == 401 and script.headers["content-type"] == "application/problem+json"
    assert script.json()["type"].endswith("/console-sign-in-required")


@pytest.mark.parametrize(
    "attempt",
    [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/console",
        "/console//evil.example",
        "javascript:alert(1)",
        "/console\t//x",
        "/elsewhere",
    ],
)
def test_next_never_leaves_the_console(stack: Stack, attempt: str) -> None:
    assert safe_next(attempt) == "/console"
    page = stack.client.get("/console/sign-in", params={"next": attempt})
    assert page.status_code == 200 and 'data-next="/console"' in page.text
    assert safe_next("/console/twins?q=SI25") == "/console/twins?q=SI25"


def test_idle_and_absolute_timeouts_end_a_session(stack: Stack, brand: dict[str, Any]) -> None:
    settings = stack.runtime.settings
    engine = stack.runtime.engine
    idle = sign_in(engine, settings, brand["id"], StaffRole.analyst)
    absolute = sign_in(engine, settings, brand["id"], StaffRole.analyst)
    for who in (idle, absolute):
        assert stack.client.get("/console/sessions", headers=cookie(who)).status_code == 200
    now = utcnow()
    with session_scope(engine) as s:
        s.execute(
            update(StaffSession)
            .where(col(StaffSession.staff_id) == idle.staff_id)
            .values(last_seen_at=now - timedelta(minutes=settings.console_idle_minutes, seconds=1))
        )
        s.execute(  # active a second ago, but past its absolute end
            update(StaffSession)
            .where(col(StaffSession.staff_id) == absolute.staff_id)
            .values(last_seen_at=now, expires_at=now - timedelta(seconds=1))
        )
    for who in (idle, absolute):
        r = stack.client.get("/console/sessions", headers={"Accept": "text/html"} | cookie(who), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")


def test_sign_in_attempts_are_rate_limited(stack: Stack) -> None:
    refused = []
    shapes: list[Any] = [
        {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}},
        {"id": "AAAA", "response": "not an object"},  # malformed shapes are refusals too, never a 500
        {"id": 7},
        {},
    ]
    for i in range(12):
        start = stack.client.post("/console/api/sign-in/options", json={})
        assert start.status_code == 200, start.text
        fake = shapes[i % len(shapes)]
        r = stack.client.post(
            "/console/api/sign-in", json={"challenge_id": start.json()["challenge_id"], "credential": fake}
        )
        refused.append(r.status_code)
    assert refused[:10] == [401] * 10 and refused[10:] == [429, 429]


@pytest.mark.parametrize(
    "credential",
    [
        {"id": "AAAA", "response": "not an object"},
        {"id": 7, "response": {}},
        {"id": "A" * 5000, "response": {"userHandle": 1}},
        {
            "rawId": "AAAA",
            "type": "public-key",
            "response": {"clientDataJSON": "!!", "authenticatorData": "", "signature": ""},
        },
    ],
)
def test_malformed_credentials_are_refused_not_crashed(stack: Stack, brand: dict[str, Any], credential: Any) -> None:
    made = _invite(stack, brand, role="analyst")
    secret = made["link"].partition("#")[2]
    start = stack.client.post(f"/console/api/join/{made['id']}/options", json={"secret": secret}).json()
    join = stack.client.post(
        f"/console/api/join/{made['id']}",
        json={"secret": secret, "challenge_id": start["challenge_id"], "credential": credential},
    )
    assert join.status_code == 400 and join.json()["type"].endswith("/console-passkey-refused"), join.text


def test_texts_cover_both_languages_with_the_same_placeholders() -> None:
    for area in (texts_auth, texts_security):
        assert area.EN.keys() == area.ZH.keys()
        for key, english in area.EN.items():
            assert area.ZH[key].strip() and english.strip()
            assert sorted(re.findall(r"{(\w+)}", english)) == sorted(re.findall(r"{(\w+)}", area.ZH[key])), key


def test_ceremonies_refuse_another_origin(stack: Stack, brand: dict[str, Any]) -> None:
    made = _invite(stack, brand, role="analyst")
    evil = {"Origin": "http://evil.example"}
    for path, body in (
        ("/console/api/sign-in/options", {}),
        ("/console/api/sign-in", {"challenge_id": "x", "credential": {}}),
        (f"/console/api/join/{made['id']}/options", {"secret": made["link"].partition("#")[2]}),
        ("/console/api/sign-in/wallet/options", {"address": "0x" + "11" * 20}),
    ):
        r = stack.client.post(path, json=body, headers=evil)
        assert r.status_code == 403 and r.json()["type"].endswith("/console-cross-origin"), path
