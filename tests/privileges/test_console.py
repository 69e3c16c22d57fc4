"""The console's privileges area over a real stack (SQLite and PostgreSQL): analysts read, operators
define, edit, retire and check receipts (each audited); an analyst's write and a request without the
CSRF token are refused; another brand's privilege is not found; a double use shows."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.staff.models import AuditEntry, StaffRole
from tests.privileges.conftest import World, session_of
from tests.support.console import SignedIn, sign_in


def _member(world: World, role: StaffRole, brand: dict[str, str] | None = None) -> SignedIn:
    stack = world.stack
    brand_id = stack.client.get("/v1/brands/me", headers=brand or world.brand).json()["id"]
    return sign_in(stack.runtime.engine, stack.runtime.settings, brand_id, role)


def _post(world: World, who: SignedIn, path: str, data: dict[str, str], csrf: bool = True) -> Any:
    origin = world.stack.runtime.settings.base_url
    body = data | ({"csrf": who.csrf} if csrf else {})
    return world.stack.client.post(
        path, data=body, cookies=who.cookies(), headers={"Origin": origin}, follow_redirects=False
    )


def _get(world: World, who: SignedIn, path: str) -> Any:
    return world.stack.client.get(path, cookies=who.cookies())


def _audit(world: World, who: SignedIn) -> list[tuple[str, str | None, str]]:
    with session_scope(world.stack.runtime.engine) as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.staff_id == who.staff_id).order_by(col(AuditEntry.id)))
        return [(r.action, r.target, r.outcome) for r in rows]


FORM = {
    "kind": "redeem_once",
    "name_en": "Private viewing",
    "name_zh": "私人预览",
    "claimed": "1",
    "not_lost_or_stolen": "1",
    "min_held": "1",
    "capacity": "5",
}


def test_an_operator_defines_edits_and_retires_and_an_analyst_reads(world: World) -> None:
    operator, analyst = _member(world, StaffRole.operator), _member(world, StaffRole.analyst)
    r = _post(world, operator, "/console/privileges", FORM | {"min_days_owned": "30", "starts_at": "2026-01-01T00:00"})
    assert r.status_code == 303, r.text
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    api = world.stack.client.get(f"/v1/privileges/{pid}", headers=world.brand).json()
    assert api["name"] == {"en": "Private viewing", "zh": "私人预览"} and api["rules"]["min_days_owned"] == 30
    assert api["capacity"] == 5 and api["starts_at"].startswith("2026-01-01T00:00")
    bad = _post(world, operator, "/console/privileges", FORM | {"name_en": "", "gtins": "123"})
    assert bad.status_code == 422 and 'id="form-errors"' in bad.text
    r = _post(world, operator, f"/console/privileges/{pid}", FORM | {"name_en": "Private viewing II", "capacity": "7"})
    assert r.status_code == 303, r.text
    assert world.stack.client.get(f"/v1/privileges/{pid}", headers=world.brand).json()["capacity"] == 7
    page = _get(world, analyst, "/console/privileges")
    assert page.status_code == 200 and f'data-privilege="{pid}"' in page.text and "Private viewing II" in page.text
    assert 'id="read-only"' in page.text and 'id="new-privilege"' not in page.text
    zh = _get(world, analyst, f"/console/privileges/{pid}?lang=zh-CN")
    assert "私人预览" in zh.text and "持有人权益" in zh.text
    refused = _post(world, analyst, f"/console/privileges/{pid}/retire", {})
    assert refused.status_code == 403 and refused.json()["type"].endswith("console-role-refused")
    forged = _post(world, operator, f"/console/privileges/{pid}/retire", {}, csrf=False)
    assert forged.status_code == 403 and forged.json()["type"].endswith("console-csrf-refused")
    assert _post(world, operator, f"/console/privileges/{pid}/retire", {}).status_code == 303
    assert world.stack.client.get(f"/v1/privileges/{pid}", headers=world.brand).json()["retired"] is True
    actions = _audit(world, operator)
    for action in ("privilege.create", "privilege.update", "privilege.retire"):
        assert (action, f"privilege:{pid}", "ok") in actions
    assert any(a[0] == f"POST /console/privileges/{pid}/retire" and a[2] == "refused" for a in _audit(world, analyst))


def test_another_brands_privilege_is_not_found(world: World) -> None:
    pid = world.privilege()
    theirs = _member(world, StaffRole.operator, world.other)
    assert _get(world, theirs, f"/console/privileges/{pid}").status_code == 404
    assert _post(world, theirs, f"/console/privileges/{pid}", FORM).status_code == 404
    assert _post(world, theirs, f"/console/privileges/{pid}/retire", {}).status_code == 404
    assert f'data-privilege="{pid}"' not in _get(world, theirs, "/console/privileges").text
    assert world.stack.client.get(f"/v1/privileges/{pid}", headers=world.brand).json()["retired"] is False


def test_staff_check_a_receipt_on_the_page_and_see_double_uses(world: World) -> None:
    owner, token = world.owned_twin()
    pid = world.privilege()
    r = world.stack.client.post(
        f"/v1/privileges/{pid}/redeem",
        json={"collection": world.collection, "token_id": token},
        headers=session_of(world.stack, owner),
    )
    receipt = r.json()["receipt"]
    operator = _member(world, StaffRole.operator)
    first = _post(world, operator, "/console/privileges/check", {"receipt": receipt, "venue": "Flagship"})
    assert first.status_code == 200 and 'data-reason="accepted"' in first.text
    second = _post(world, operator, "/console/privileges/check", {"receipt": receipt, "venue": "Flagship"})
    assert 'data-reason="used"' in second.text
    theirs = _member(world, StaffRole.operator, world.other)
    assert 'data-reason="unknown"' in _post(world, theirs, "/console/privileges/check", {"receipt": receipt}).text
    assert ("receipt.check", f"twin:{world.collection}:{token}", "ok") in _audit(world, operator)
    # A venue offline accepted it too and syncs later: a double use, shown on the page.
    up = world.stack.client.post(
        "/v1/receipts/uses",
        json={"uses": [{"receipt": receipt, "venue": "Outlet", "used_at": 1_800_000_000}]},
        headers=world.brand,
    )
    assert up.json()["uses"][0]["outcome"] == "double"
    page = _get(world, _member(world, StaffRole.analyst), "/console/privileges").text
    assert 'id="double-uses"' in page and re.search(r'class="double"', page)
