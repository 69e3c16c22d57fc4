"""Owners' passkey registration and sign-in through the API, on SQLite and PostgreSQL, with a
software authenticator: the account is predicted (nothing on chain), the session is the player
session every PlayerDep route takes, and the ceremonies' attacks are refused: a replayed or expired
challenge, another origin, no user verification, an unknown credential."""

from __future__ import annotations

from datetime import timedelta

from eth_account import Account
from sqlalchemy import update
from sqlmodel import col, select

from registry.db.columns import utcnow
from registry.db.engine import session_scope
from registry.owners.models import OwnerChallenge, OwnerPasskey
from registry.siwe.models import SiweSession
from registry.siwe.service import _sha256
from tests.api.conftest import Stack
from tests.owners.authenticator import Authenticator, unb64url
from tests.owners.conftest import ORIGIN, bearer, new_owner, problem, register, sign_in
from tests.siwe.conftest import sign_in as sign_in_eoa


def test_a_new_passkey_is_a_predicted_account_and_a_player_session(stack: Stack) -> None:
    started = stack.client.post("/v1/owners/passkeys/options").json()
    options = started["options"]
    assert options["rp"]["id"] == "owners.example" and options["user"]["name"] == "Twinmark owner"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7]  # ES256 only: the account verifies P-256
    selection = options["authenticatorSelection"]
    assert (selection["residentKey"], selection["userVerification"], options["attestation"]) == (
        "required",
        "required",
        "none",
    )
    assert len(unb64url(options["user"]["id"])) == 32  # random, no personal data

    auth = Authenticator(ORIGIN)
    r = stack.client.post(
        "/v1/owners/passkeys",
        json={"challenge_id": started["challenge_id"], "credential": auth.register(options)},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    chain = stack.runtime.chain
    assert body["account"] == chain.passkey_account(auth.key.qx, auth.key.qy)
    assert not chain.account_deployed(body["account"])  # predicted: nothing was sent
    assert body["credential_id"] == auth.id and body["synced"] is False

    mine = stack.client.get("/v1/me/twins", headers=bearer(body["token"]))
    assert mine.status_code == 200, mine.text
    assert mine.json()["owner"] == body["account"] and mine.json()["items"] == []
    with session_scope(stack.runtime.engine) as s:
        session = s.get(SiweSession, _sha256(body["token"]))
        assert session is not None and session.signature_kind == "passkey" and session.address == body["account"]
        row = s.get(OwnerPasskey, auth.id)
        assert row is not None and (row.qx, row.account) == (auth.key.qx.hex(), body["account"])


def test_a_synced_passkey_says_so(stack: Stack) -> None:
    _, body = new_owner(stack, backed_up=True)
    assert body["synced"] is True


def test_a_registration_answer_works_once(stack: Stack) -> None:
    auth = Authenticator(ORIGIN)
    started = stack.client.post("/v1/owners/passkeys/options").json()
    sent = {"challenge_id": started["challenge_id"], "credential": auth.register(started["options"])}
    assert stack.client.post("/v1/owners/passkeys", json=sent).status_code == 201
    again = stack.client.post("/v1/owners/passkeys", json=sent)
    assert "already used" in problem(again, 400, "owner-passkey-refused")["detail"]


def test_an_expired_challenge_is_refused(stack: Stack) -> None:
    auth = Authenticator(ORIGIN)
    started = stack.client.post("/v1/owners/passkeys/options").json()
    with session_scope(stack.runtime.engine) as s:
        s.execute(
            update(OwnerChallenge)
            .where(col(OwnerChallenge.id) == started["challenge_id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = stack.client.post(
        "/v1/owners/passkeys",
        json={"challenge_id": started["challenge_id"], "credential": auth.register(started["options"])},
    )
    problem(r, 400, "owner-passkey-refused")
    with session_scope(stack.runtime.engine) as s:
        assert s.get(OwnerPasskey, auth.id) is None


def test_another_origin_is_refused(stack: Stack) -> None:
    """A phishing site relaying our options to its visitor: the browser writes its own origin."""
    auth = Authenticator(ORIGIN)
    r = register(stack, auth, origin="https://owners.example.evil")
    assert "origin" in problem(r, 400, "owner-passkey-refused")["detail"].lower()
    auth, _ = new_owner(stack)
    r = sign_in(stack, auth, origin="https://owners.example.evil")
    assert "origin" in problem(r, 401, "owner-sign-in-refused")["detail"].lower()


def test_user_verification_is_required(stack: Stack) -> None:
    r = register(stack, Authenticator(ORIGIN), uv=False)
    assert "verif" in problem(r, 400, "owner-passkey-refused")["detail"].lower()
    auth, _ = new_owner(stack)
    r = sign_in(stack, auth, uv=False)
    assert "verif" in problem(r, 401, "owner-sign-in-refused")["detail"].lower()


def test_sign_in_opens_a_session_for_the_account_and_an_answer_works_once(stack: Stack) -> None:
    auth, registered = new_owner(stack)
    started = stack.client.post("/v1/owners/sign-in/options").json()
    assert "allowCredentials" not in started["options"] or started["options"]["allowCredentials"] == []
    sent = {"challenge_id": started["challenge_id"], "credential": auth.assert_options(started["options"])}
    r = stack.client.post("/v1/owners/sign-in", json=sent)
    assert r.status_code == 200, r.text
    assert r.json()["account"] == registered["account"]
    me = stack.client.get("/v1/me/twins", headers=bearer(r.json()["token"]))
    assert me.status_code == 200 and me.json()["owner"] == registered["account"]
    again = stack.client.post("/v1/owners/sign-in", json=sent)
    assert "already used" in problem(again, 401, "owner-sign-in-refused")["detail"]


def test_an_unknown_or_cloned_passkey_cannot_sign_in(stack: Stack) -> None:
    problem(sign_in(stack, Authenticator(ORIGIN)), 401, "owner-sign-in-refused")  # never registered
    auth, _ = new_owner(stack)
    assert sign_in(stack, auth).status_code == 200
    auth.count = 0  # a copy of the key taken before its last use: its counter is behind
    assert "count" in problem(sign_in(stack, auth), 401, "owner-sign-in-refused")["detail"].lower()


def test_a_passkey_of_another_user_handle_is_refused(stack: Stack) -> None:
    auth, _ = new_owner(stack)
    auth.key.user_handle = b"\x01" * 32
    assert "user" in problem(sign_in(stack, auth), 401, "owner-sign-in-refused")["detail"]
    with session_scope(stack.runtime.engine) as s:
        assert s.exec(select(OwnerPasskey).where(col(OwnerPasskey.credential_id) == auth.id)).one().sign_count == 0


def test_the_account_route_says_what_a_page_signing_a_message_needs(stack: Stack) -> None:
    """`window.twinmarkSign` asks it for the ERC-7739 domain's chain id and whether to wrap for
    EIP-6492; only a passkey account's session gets an answer."""
    _, owner = new_owner(stack)
    r = stack.client.get("/v1/owners/me/account", headers=bearer(owner["token"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"account": owner["account"], "chain_id": stack.runtime.chain.chain_id, "deployed": False}
    problem(stack.client.get("/v1/owners/me/account"), 401, "unauthenticated")
    wallet = sign_in_eoa(stack, Account.create())
    assert wallet.status_code == 201, wallet.text
    problem(stack.client.get("/v1/owners/me/account", headers=bearer(wallet.json()["token"])), 403, "forbidden")
