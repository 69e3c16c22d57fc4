"""The Security page without a browser, on SQLite and PostgreSQL: who may see it (refusals audited),
role changes and disabling end sessions at once, another brand's ids are not found, invites shown
once and revocable, the audit log's cursor and filters, and the compromise report's confirmation."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.db.engine import session_scope
from registry.staff.models import StaffMember, StaffRole
from tests.api import conftest as api
from tests.api.conftest import Stack
from tests.support.console import SignedIn, sign_in

stack = api.stack  # the module's stack, on SQLite and on PostgreSQL
HTML = {"Accept": "text/html"}


def cookie(who: SignedIn) -> dict[str, str]:
    return {"Cookie": f"{who.cookie_name}={who.cookie}"}


class Brand:
    def __init__(self, stack: Stack, name: str, symbol: str) -> None:
        self.stack = stack
        self.headers, _ = stack.new_brand(name, symbol)
        self.id = stack.client.get("/v1/brands/me", headers=self.headers).json()["id"]

    def member(self, role: StaffRole, name: str = "Member") -> SignedIn:
        return sign_in(self.stack.runtime.engine, self.stack.runtime.settings, self.id, role, name=name)


@pytest.fixture(scope="module")
def brands(stack: Stack) -> tuple[Brand, Brand]:
    return Brand(stack, "Maison Aurèle", "MAUR"), Brand(stack, "Atelier Nord", "ANRD")


def post(client: TestClient, who: SignedIn, path: str, **form: str) -> Any:
    return client.post(path, data={"csrf": who.csrf, **form}, headers=HTML | cookie(who), follow_redirects=False)


def page(client: TestClient, who: SignedIn, query: str = "") -> Any:
    return client.get(f"/console/security{query}", headers=HTML | cookie(who), follow_redirects=False)


def test_only_admins_see_the_page_and_refusals_are_audited(stack: Stack, brands: tuple[Brand, Brand]) -> None:
    brand = brands[0]
    admin = brand.member(StaffRole.admin, "Admin")
    assert page(stack.client, admin).status_code == 200
    for role in (StaffRole.analyst, StaffRole.operator):
        who = brand.member(role, f"A {role.value}")
        refused = page(stack.client, who)
        assert refused.status_code == 403 and "Your role does not allow this." in refused.text  # a readable page
        script = stack.client.get("/console/security", headers={"Accept": "application/json"} | cookie(who))
        assert script.status_code == 403 and script.headers["content-type"] == "application/problem+json"
        log = page(stack.client, admin, f"?staff={who.staff_id}&outcome=refused").text
        assert log.count('data-action="GET /console/security" data-outcome="refused"') == 2


def test_role_change_and_disabling_end_sessions(stack: Stack, brands: tuple[Brand, Brand]) -> None:
    brand = brands[0]
    admin = brand.member(StaffRole.admin, "Admin 2")
    demoted, disabled = brand.member(StaffRole.admin, "Soon analyst"), brand.member(StaffRole.operator, "Leaving")
    for who in (demoted, disabled):
        assert stack.client.get("/console/sessions", headers=cookie(who)).status_code == 200
    assert (
        post(stack.client, admin, f"/console/security/staff/{demoted.staff_id}/role", role="analyst").status_code == 303
    )
    assert post(stack.client, admin, f"/console/security/staff/{disabled.staff_id}/disable").status_code == 303
    for who in (demoted, disabled):
        assert stack.client.get("/console/sessions", headers=cookie(who)).status_code == 401
    with session_scope(stack.runtime.engine) as s:
        assert s.get(StaffMember, demoted.staff_id).role == "analyst"  # type: ignore[union-attr]
        assert s.get(StaffMember, disabled.staff_id).disabled_at is not None  # type: ignore[union-attr]
    log = page(stack.client, admin, "?action=staff.").text
    assert 'data-action="staff.role"' in log and 'data-action="staff.disable"' in log


def test_the_last_admin_stays_admin(stack: Stack) -> None:
    brand = Brand(stack, "Solo", "SOLO")
    only = brand.member(StaffRole.admin, "Only admin")
    r = post(stack.client, only, f"/console/security/staff/{only.staff_id}/role", role="analyst")
    assert r.status_code == 409
    assert post(stack.client, only, f"/console/security/staff/{only.staff_id}/disable").status_code == 409


def test_another_brands_staff_and_invites_are_not_found(stack: Stack, brands: tuple[Brand, Brand]) -> None:
    ours, theirs = brands
    admin = ours.member(StaffRole.admin, "Admin 3")
    foreign = theirs.member(StaffRole.admin, "Their admin")
    invite = stack.client.post("/v1/brands/me/staff/invites", json={"name": "Theirs"}, headers=theirs.headers).json()
    for path, form in (
        (f"/console/security/staff/{foreign.staff_id}/role", {"role": "analyst"}),
        (f"/console/security/staff/{foreign.staff_id}/disable", {}),
        (f"/console/security/invites/{invite['id']}/revoke", {}),
    ):
        assert post(stack.client, admin, path, **form).status_code == 404, path
    assert stack.client.get("/console/sessions", headers=cookie(foreign)).status_code == 200
    secret = invite["link"].partition("#")[2]
    assert stack.client.post(f"/console/api/join/{invite['id']}/options", json={"secret": secret}).status_code == 200
    assert foreign.staff_id not in page(stack.client, admin).text


def test_an_invite_link_is_shown_once_and_can_be_revoked(stack: Stack, brands: tuple[Brand, Brand]) -> None:
    admin = brands[0].member(StaffRole.admin, "Admin 4")
    made = post(stack.client, admin, "/console/security/invites", name="Lin Wei", role="operator")
    assert made.status_code == 200
    link = re.search(r'id="new-link" type="text" readonly value="([^"]+)"', made.text)
    assert link, made.text
    invite_id, secret = link.group(1).split("/console/join/")[1].split("#")
    assert secret not in page(stack.client, admin).text  # never shown again
    assert stack.client.post(f"/console/api/join/{invite_id}/options", json={"secret": secret}).status_code == 200
    assert post(stack.client, admin, f"/console/security/invites/{invite_id}/revoke").status_code == 303
    revoked = stack.client.post(f"/console/api/join/{invite_id}/options", json={"secret": secret})
    assert revoked.status_code == 404


def test_the_audit_log_pages_newest_first_with_filters(stack: Stack) -> None:
    brand = Brand(stack, "Audit House", "AUDH")
    admin = brand.member(StaffRole.admin, "Auditor")
    for i in range(55):
        assert post(stack.client, admin, "/console/security/invites", name=f"N{i}", role="analyst").status_code == 200
    first = page(stack.client, admin, "?action=staff.invite").text
    details = re.findall(r"<td>(N\d+) as analyst", first)
    assert details[:2] == ["N54", "N53"] and len(details) == 50
    cursor = re.search(r'id="audit-next" href="([^"]+)"', first)
    assert cursor
    rest = stack.client.get(cursor.group(1).replace("&amp;", "&"), headers=HTML | cookie(admin)).text
    assert re.findall(r"<td>(N\d+) as analyst", rest) == [f"N{i}" for i in range(4, -1, -1)]
    assert 'id="audit-next"' not in rest
    assert "as analyst" not in page(stack.client, admin, "?outcome=refused").text


def test_a_compromise_report_is_confirmed_before_anything_changes(stack: Stack) -> None:
    brand = Brand(stack, "Stolen Keys", "STLN")
    admin = brand.member(StaffRole.admin, "Careful admin")
    since = "2026-01-01T09:30"
    preview = post(stack.client, admin, "/console/security/compromise", since=since)
    assert preview.status_code == 200
    assert "It was issued or changed while the brand's keys were stolen: do not trust it." in html.unescape(
        preview.text
    )
    assert 'id="confirm-compromise"' in preview.text
    assert stack.client.get("/v1/brands/me", headers=brand.headers).status_code == 200  # nothing changed yet
    unticked = post(stack.client, admin, "/console/security/compromise/confirm", since=since)
    assert unticked.status_code == 422
    assert stack.client.get("/v1/brands/me", headers=brand.headers).status_code == 200
    done = post(stack.client, admin, "/console/security/compromise/confirm", since=since, confirm="yes")
    assert done.status_code == 200, done.text
    assert stack.client.get("/v1/brands/me", headers=brand.headers).status_code == 401  # keys revoked with it
    assert 'data-action="brand.compromise" data-outcome="ok"' in done.text
    future = post(stack.client, admin, "/console/security/compromise", since="2999-01-01T00:00")
    assert future.status_code == 422
