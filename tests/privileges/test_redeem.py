"""Privileges over a real stack (Anvil, the indexer, SQLite and PostgreSQL): a brand defines them, an
owner who claimed a twin sees and redeems theirs (a receipt, or a code), a resale ends the old owner's
privileges at the next indexed block, a twin redeems once whoever holds it (moving it between one's
own accounts does not redeem it twice), concurrent redeems give one receipt, another brand's privilege
is not found, and the buyer's page names what the twin carries."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from eth_account import Account
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.errors import TwinmarkError
from registry.privileges.models import Redemption
from registry.privileges.receipts import receipt_account, verify
from registry.privileges.redeem import redeem
from registry.privileges.retention import forget_settled
from registry.twins.models import Twin
from registry.webhooks.models import Delivery
from tests.api.conftest import Stack
from tests.api.test_lifecycle import problem
from tests.privileges.conftest import World, session_of, transfer


def _mine(stack: Stack, headers: dict[str, str], token: int, vault: str | None = None) -> dict[str, dict[str, object]]:
    r = stack.client.get("/v1/me/privileges", headers=headers, params={"vault": vault} if vault else {})
    assert r.status_code == 200, r.text
    twin = next(t for t in r.json()["twins"] if t["token_id"] == token)
    return {str(p["id"]): p for p in twin["privileges"]}


def test_an_owner_sees_and_redeems_a_privilege_once(world: World) -> None:
    stack = world.stack
    owner, token = world.owned_twin()
    me = session_of(stack, owner)
    pid = world.privilege(description={"en": "A seat at the show", "zh": "秀场座位"}, capacity=100)
    seen = _mine(stack, me, token)[str(pid)]
    assert seen["eligible"] is True and seen["why_not"] == [] and seen["receipt"] is None
    r = stack.client.post(
        f"/v1/privileges/{pid}/redeem", json={"collection": world.collection, "token_id": token}, headers=me
    )
    assert r.status_code == 201, r.text
    receipt = verify(r.json()["receipt"], receipt_account(stack.runtime.settings).address)
    assert (receipt.privilege_id, receipt.token_id, receipt.owner) == (pid, token, owner.address)
    assert receipt.collection == world.collection and receipt.expires_at > time.time()
    again = stack.client.post(
        f"/v1/privileges/{pid}/redeem", json={"collection": world.collection, "token_id": token}, headers=me
    )
    problem(again, 409, "privilege-already-redeemed")
    after = _mine(stack, me, token)[str(pid)]
    assert after["redeemed"] is True and after["eligible"] is False and after["receipt"] == r.json()["receipt"]
    listed = stack.client.get("/v1/privileges/redemptions", headers=world.brand, params={"privilege_id": pid}).json()
    assert [x["token_id"] for x in listed["redemptions"]] == [token]
    with session_scope(stack.runtime.engine) as s:
        types = s.exec(select(Delivery.event_type).where(col(Delivery.event_id).like("evt_privilege_%"))).all()
    assert types == []  # no subscription yet: nobody hears it
    hook = stack.client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["privilege.redeemed"]},
        headers=world.brand,
    )
    assert hook.status_code == 201, hook.text
    _, second = world.owned_twin(owner)
    assert (
        stack.client.post(
            f"/v1/privileges/{pid}/redeem", json={"collection": world.collection, "token_id": second}, headers=me
        ).status_code
        == 201
    )
    with session_scope(stack.runtime.engine) as s:
        rows = s.exec(select(Delivery).where(col(Delivery.event_type) == "privilege.redeemed")).all()
    assert len(rows) == 1 and f'"token_id":{second}' in rows[0].payload


def test_a_resale_ends_the_old_owners_privileges_and_a_twin_redeems_once(world: World) -> None:
    stack = world.stack
    owner, token = world.owned_twin()
    pid = world.privilege()
    me = session_of(stack, owner)
    assert _mine(stack, me, token)[str(pid)]["eligible"] is True
    r = stack.client.post(
        f"/v1/privileges/{pid}/redeem", json={"collection": world.collection, "token_id": token}, headers=me
    )
    assert r.status_code == 201, r.text
    # The owner moves the item to their own second account: a fresh address, the same twin.
    own_second = Account.create()
    transfer(stack, world.collection, token, owner, own_second.address)
    gone = stack.client.get("/v1/me/privileges", headers=me).json()["twins"]
    assert token not in [t["token_id"] for t in gone]  # the old owner's privileges ended
    mine = session_of(stack, own_second)
    assert _mine(stack, mine, token)[str(pid)]["why_not"] == ["already-redeemed"]
    twice = stack.client.post(
        f"/v1/privileges/{pid}/redeem", json={"collection": world.collection, "token_id": token}, headers=mine
    )
    problem(twice, 409, "privilege-already-redeemed")
    # The old owner cannot redeem another privilege through a twin no longer theirs.
    other = world.privilege()
    stale = stack.client.post(
        f"/v1/privileges/{other}/redeem", json={"collection": world.collection, "token_id": token}, headers=me
    )
    problem(stale, 403, "not-the-owner")
    # Their receipt, unused when the twin moved, is refused online.
    check = stack.client.post("/v1/receipts/check", json={"receipt": r.json()["receipt"]}, headers=world.brand)
    assert check.json()["ok"] is False and check.json()["reason"] == "revoked"


def test_concurrent_redeems_of_one_twin_give_exactly_one_receipt(world: World) -> None:
    stack = world.stack
    owner, token = world.owned_twin()
    pid = world.privilege(capacity=1_000)
    start = threading.Barrier(8)
    rt = stack.runtime

    def attempt(_: int) -> str:
        start.wait()
        try:
            with session_scope(rt.engine) as s:
                redeem(
                    s,
                    chain=rt.chain,
                    settings=rt.settings,
                    server_key=rt.server_key,
                    receipt_key=receipt_account(rt.settings),
                    actor=owner.address,
                    vault=None,
                    privilege_id=pid,
                    collection=world.collection,
                    token_id=token,
                    now=int(time.time()),
                )
            return "receipt"
        except TwinmarkError as exc:
            return exc.code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("receipt") == 1, outcomes
    assert set(outcomes) == {"receipt", "privilege-already-redeemed"}, outcomes
    listed = stack.client.get("/v1/privileges/redemptions", headers=world.brand, params={"privilege_id": pid}).json()
    assert len(listed["redemptions"]) == 1


def test_codes_are_handed_out_once_and_capacity_holds(world: World) -> None:
    stack = world.stack
    pid = world.privilege("code", capacity=2)
    up = stack.client.post(
        f"/v1/privileges/{pid}/codes", json={"codes": ["SAVE-1", "SAVE-2", "SAVE-1"]}, headers=world.brand
    )
    assert up.status_code == 201 and up.json() == {"added": 2, "duplicates": 1, "codes_left": 2}
    assert (
        stack.client.post(f"/v1/privileges/{pid}/codes", json={"codes": ["SAVE-2"]}, headers=world.brand).json()[
            "duplicates"
        ]
        == 1
    )
    codes = []
    for _ in range(2):
        owner, token = world.owned_twin()
        r = stack.client.post(
            f"/v1/privileges/{pid}/redeem",
            json={"collection": world.collection, "token_id": token},
            headers=session_of(stack, owner),
        )
        assert r.status_code == 201, r.text
        codes.append(r.json()["code"])
        assert _mine(stack, session_of(stack, owner), token)[str(pid)]["code"] == r.json()["code"]
    assert sorted(codes) == ["SAVE-1", "SAVE-2"]
    owner, token = world.owned_twin()
    full = stack.client.post(
        f"/v1/privileges/{pid}/redeem",
        json={"collection": world.collection, "token_id": token},
        headers=session_of(stack, owner),
    )
    problem(full, 409, "privilege-sold-out")
    with session_scope(stack.runtime.engine) as s:
        from registry.privileges.models import PrivilegeCode

        sealed = [c.sealed for c in s.exec(select(PrivilegeCode).where(PrivilegeCode.privilege_id == pid))]
    assert sealed and not any("SAVE" in x for x in sealed)  # at rest only sealed


def test_another_brands_privilege_is_not_found(world: World) -> None:
    stack = world.stack
    pid = world.privilege()
    theirs = world.other
    for r in (
        stack.client.get(f"/v1/privileges/{pid}", headers=theirs),
        stack.client.patch(f"/v1/privileges/{pid}", json={"capacity": 1}, headers=theirs),
        stack.client.post(f"/v1/privileges/{pid}/retire", headers=theirs),
        stack.client.post(f"/v1/privileges/{pid}/codes", json={"codes": ["X"]}, headers=theirs),
        stack.client.get("/v1/privileges/redemptions", params={"privilege_id": pid}, headers=theirs),
    ):
        problem(r, 404, "privilege-not-found")
    assert pid not in [p["id"] for p in stack.client.get("/v1/privileges", headers=theirs).json()["privileges"]]
    # Nor may a brand gate its privilege on another brand's collection.
    r = stack.client.post(
        "/v1/privileges",
        json={"kind": "ongoing", "name": {"en": "x", "zh": "x"}, "rules": {"collections": [world.collection]}},
        headers=theirs,
    )
    problem(r, 422, "invalid-input")
    # An owner of the brand's twin cannot redeem the other brand's privilege through it.
    owner, token = world.owned_twin()
    foreign = world.privilege(headers=theirs)
    r = stack.client.post(
        f"/v1/privileges/{foreign}/redeem",
        json={"collection": world.collection, "token_id": token},
        headers=session_of(stack, owner),
    )
    problem(r, 404, "privilege-not-found")


def test_the_page_names_what_a_twin_carries_and_retired_ones_go(world: World) -> None:
    stack = world.stack
    _, token = world.owned_twin()
    pid = world.privilege("ongoing", name={"en": "Lifetime care", "zh": "终身护理"})
    carried = stack.client.get(f"/v1/twins/{world.collection}/{token}/privileges").json()["privileges"]
    assert {"id": pid, "kind": "ongoing", "name": {"en": "Lifetime care", "zh": "终身护理"}} in carried
    page = stack.client.get(f"/t/{world.collection}/{token}", headers={"accept": "text/html"})
    assert 'id="privileges"' in page.text and "Lifetime care" in page.text
    zh = stack.client.get(f"/t/{world.collection}/{token}", params={"lang": "zh-CN"}, headers={"accept": "text/html"})
    assert "终身护理" in zh.text and "持有人权益" in zh.text
    assert stack.client.post(f"/v1/privileges/{pid}/retire", headers=world.brand).json()["retired"] is True
    carried = stack.client.get(f"/v1/twins/{world.collection}/{token}/privileges").json()["privileges"]
    assert pid not in [p["id"] for p in carried]


def test_the_indexer_keeps_owner_since_and_last_serviced_at(world: World) -> None:
    stack = world.stack
    owner, token = world.owned_twin()
    pid = world.privilege(rules={"serviced_within_days": 365, "min_days_owned": 1})
    me = session_of(stack, owner)
    with session_scope(stack.runtime.engine) as s:
        twin = s.exec(select(Twin).where(Twin.collection == world.collection, Twin.token_id == token)).one()
    assert twin.owner_since is not None and abs(twin.owner_since - time.time()) < 120 and twin.last_serviced_at is None
    assert _mine(stack, me, token)[str(pid)]["why_not"] == ["owned-too-recently", "not-serviced"]
    r = stack.client.post("/v1/providers", json={"name": "Atelier"}, headers=world.brand)
    assert r.status_code == 201, r.text
    provider = {"Authorization": f"Bearer {r.json()['api_key']}"}
    record = {"kind": "repair", "summary": "Handle re-stitched", "performed_on": "2026-11-20"}
    r = stack.client.post(f"/v1/twins/{world.collection}/{token}/service-records", json=record, headers=provider)
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while _mine(stack, me, token)[str(pid)]["why_not"] != ["owned-too-recently"]:
        assert time.monotonic() < deadline, "the service record was not indexed"
        stack.runtime.indexer.wake()
        time.sleep(0.05)


def test_the_brand_asks_whether_an_address_holds_an_ongoing_privilege(world: World) -> None:
    stack = world.stack
    owner, token = world.owned_twin()
    pid = world.privilege("ongoing", rules={"min_held": 1})
    r = stack.client.get(f"/v1/privileges/{pid}/holders/{owner.address.lower()}", headers=world.brand)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "privilege_id": pid,
        "owner": owner.address,
        "eligible": True,
        "twins": [{"collection": world.collection, "token_id": token, "eligible": True, "why_not": []}],
    }
    redeem = stack.client.post(
        f"/v1/privileges/{pid}/redeem",
        json={"collection": world.collection, "token_id": token},
        headers=session_of(stack, owner),
    )
    problem(redeem, 409, "privilege-not-redeemable")
    stranger = stack.client.get(f"/v1/privileges/{pid}/holders/{Account.create().address}", headers=world.brand)
    assert stranger.json()["eligible"] is False and stranger.json()["twins"] == []
    problem(
        stack.client.get(f"/v1/privileges/{pid}/holders/{owner.address}", headers=world.other),
        404,
        "privilege-not-found",
    )


def test_who_redeemed_is_forgotten_after_retention_and_the_twin_stays_redeemed(world: World) -> None:
    """Last in the module: forgetting reaches every settled redemption of this world."""
    stack = world.stack
    owner, token = world.owned_twin()
    me = session_of(stack, owner)
    pid = world.privilege()
    body = {"collection": world.collection, "token_id": token}
    r = stack.client.post(f"/v1/privileges/{pid}/redeem", json=body, headers=me)
    assert r.status_code == 201, r.text
    text = r.json()["receipt"]
    expires = verify(text, receipt_account(stack.runtime.settings).address).expires_at
    day = 86_400
    engine = stack.runtime.engine
    assert forget_settled(engine, 730, now=expires + 729 * day) == 0  # within retention: all kept
    with session_scope(engine) as s:
        row = s.exec(select(Redemption).where(Redemption.nonce == verify_nonce(text, stack))).one()
        assert row.owner == owner.address and row.receipt == text
    assert forget_settled(engine, 730, now=expires + 731 * day) >= 1
    with session_scope(engine) as s:
        row = s.exec(select(Redemption).where(Redemption.nonce == verify_nonce(text, stack))).one()
        assert (row.owner, row.actor, row.receipt) == ("", "", "")
        # Nothing that named the owner is left in the row.
        assert owner.address.lower()[2:] not in " ".join(str(v) for v in row.model_dump().values()).lower()
    listed = stack.client.get("/v1/privileges/redemptions", headers=world.brand, params={"privilege_id": pid})
    assert [(x["token_id"], x["owner"], x["actor"]) for x in listed.json()["redemptions"]] == [(token, "", "")]
    problem(stack.client.post(f"/v1/privileges/{pid}/redeem", json=body, headers=me), 409, "privilege-already-redeemed")
    seen = _mine(stack, me, token)[str(pid)]
    assert seen["redeemed"] is True and seen["receipt"] is None  # no longer anyone's to show
    assert forget_settled(engine, 730, now=expires + 731 * day) == 0  # forgotten once


def verify_nonce(text: str, stack: Stack) -> str:
    return verify(text, receipt_account(stack.runtime.settings).address).nonce
