"""Passkey-signed owner actions through the API, relayed by the service on a real Anvil (Osaka: the
collection's ERC-1271 path), on SQLite and PostgreSQL: a transfer, a status report, a device added
by another passkey; and the attacks: a passkey of another account, an assertion over another
transfer, a replay, a passkey removed on chain."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from registry.chain.owner_accounts import PasskeyChallenge
from tests.api.conftest import Stack
from tests.owners.authenticator import Authenticator
from tests.owners.conftest import (
    ORIGIN,
    Brand,
    bearer,
    challenge_of,
    claim_to,
    new_owner,
    problem,
    register,
    sign_in,
)


def owner_of(stack: Stack, brand: Brand, token: int) -> str:
    return str(stack.runtime.chain.collection(brand.collection).functions.ownerOf(token).call())


def to_sign(stack: Stack, brand: Brand, token: int, to: str) -> dict[str, Any]:
    r = stack.client.get(f"/v1/twins/{brand.collection}/{token}/transfers/passkey", params={"to": to})
    assert r.status_code == 200, r.text
    return dict(r.json())


def transfer(stack: Stack, brand: Brand, token: int, ask: dict[str, Any], to: str, credential: dict[str, Any]) -> Any:
    body = {"to": to, "nonce": ask["nonce"], "deadline": ask["deadline"], "credential": credential}
    return stack.client.post(f"/v1/twins/{brand.collection}/{token}/transfers/passkey", json=body)


def test_the_owners_passkey_transfers_the_twin_and_the_service_relays_it(stack: Stack, brand: Brand) -> None:
    auth, owner = new_owner(stack)
    token = claim_to(stack, brand, owner["account"])
    assert owner_of(stack, brand, token) == owner["account"]
    buyer = Account.create().address
    ask = to_sign(stack, brand, token, buyer)
    assert (ask["path"], ask["account"], ask["allow_credentials"]) == ("erc1271", owner["account"], [auth.id])
    credential = auth.answer(challenge_of(ask))
    r = transfer(stack, brand, token, ask, buyer, credential)
    assert r.status_code == 200, r.text
    assert (r.json()["from"], r.json()["owner"]) == (owner["account"], buyer)
    assert owner_of(stack, brand, token) == buyer
    assert stack.runtime.chain.account_deployed(owner["account"])  # deployed by the first action
    again = transfer(stack, brand, token, ask, buyer, credential)  # the same signed transfer, replayed
    problem(again, 409, "stale-nonce")


def test_a_passkey_cannot_move_a_twin_its_account_does_not_own(stack: Stack, brand: Brand) -> None:
    _, owner = new_owner(stack)
    thief, theirs = new_owner(stack)
    token = claim_to(stack, brand, owner["account"])
    ask = to_sign(stack, brand, token, theirs["account"])
    r = transfer(stack, brand, token, ask, theirs["account"], thief.answer(challenge_of(ask)))
    problem(r, 403, "owner-passkey-not-owner")
    assert owner_of(stack, brand, token) == owner["account"]


def test_an_assertion_over_another_transfer_is_refused(stack: Stack, brand: Brand) -> None:
    """What a page asking the passkey for one transfer and posting another would get: nothing."""
    auth, owner = new_owner(stack)
    token = claim_to(stack, brand, owner["account"])
    friend, stranger = Account.create().address, Account.create().address
    ask = to_sign(stack, brand, token, friend)
    r = transfer(stack, brand, token, ask, stranger, auth.answer(challenge_of(ask)))
    assert "challenge" in problem(r, 400, "owner-passkey-refused")["detail"].lower()
    assert owner_of(stack, brand, token) == owner["account"]


def test_the_owner_reports_the_twin_lost_with_the_passkey(stack: Stack, brand: Brand) -> None:
    auth, owner = new_owner(stack)
    token = claim_to(stack, brand, owner["account"])
    url = f"/v1/twins/{brand.collection}/{token}/status/passkey"
    ask = stack.client.get(url, params={"status": "lost"}).json()
    body = {"status": "lost", "nonce": ask["nonce"], "deadline": ask["deadline"]}
    r = stack.client.post(url, json=body | {"credential": auth.answer(challenge_of(ask))})
    assert r.status_code == 200, r.text
    twin = stack.runtime.chain.twin(brand.collection, token)
    assert twin is not None and twin.status == 1  # lost


def test_a_device_is_added_by_another_passkey_and_a_passkey_removed_on_chain_is_refused(
    stack: Stack, brand: Brand
) -> None:
    first, owner = new_owner(stack)
    account = owner["account"]
    token = claim_to(stack, brand, account)
    session = bearer(owner["token"])
    second = Authenticator(ORIGIN)
    started = stack.client.post("/v1/owners/me/passkeys/options", headers=session).json()
    assert [c["id"] for c in started["options"]["excludeCredentials"]] == [first.id]
    r = stack.client.post(
        "/v1/owners/me/passkeys",
        json={"challenge_id": started["challenge_id"], "credential": second.register(started["options"])},
        headers=session,
    )
    assert r.status_code == 201, r.text
    added = r.json()
    ask = added["to_sign"]
    assert ask["allow_credentials"] == [first.id] and ask["path"] == "execute"
    # Stored, but not yet a signer on chain: it can neither sign in nor act.
    problem(sign_in(stack, second), 401, "owner-sign-in-refused")
    body = {"deadline": ask["deadline"], "account_nonce": ask["account_nonce"]}
    url = f"/v1/owners/me/passkeys/{second.id}/signers"
    own = stack.client.post(url, json=body | {"credential": second.answer(challenge_of(ask))}, headers=session)
    problem(own, 403, "owner-passkey-not-owner")  # the new passkey cannot add itself
    r = stack.client.post(url, json=body | {"credential": first.answer(challenge_of(ask))}, headers=session)
    assert r.status_code == 200, r.text
    assert sign_in(stack, second).status_code == 200

    # The first passkey is removed on chain by the second, through the chain alone (another front
    # end would do the same): its row stays here, and the chain's answer is what refuses it.
    chain = stack.runtime.chain
    calls = [chain.remove_signer_call(account, first.key.qx, first.key.qy)]
    deadline = int(time.time()) + 600
    challenge: PasskeyChallenge = chain.passkey_execute_digest(account, calls, deadline)
    auth = second.key.assertion(challenge.digest, origin=ORIGIN, rp_id="owners.example", sign_count=99)
    tx = chain.relay_passkey_execute(account, second.key.qx, second.key.qy, calls, deadline, challenge, auth)
    assert chain.relay_state(tx) == "mined"
    assert "removed" in problem(sign_in(stack, first), 401, "owner-sign-in-refused")["detail"]
    buyer = Account.create().address
    ask = to_sign(stack, brand, token, buyer)
    r = transfer(stack, brand, token, ask, buyer, first.answer(challenge_of(ask)))
    assert "removed" in problem(r, 403, "owner-passkey-not-owner")["detail"]
    r = transfer(stack, brand, token, ask, buyer, second.answer(challenge_of(ask)))
    assert r.status_code == 200, r.text
    assert owner_of(stack, brand, token) == buyer


def test_registering_again_is_refused(stack: Stack) -> None:
    auth, _ = new_owner(stack)
    problem(register(stack, auth), 400, "owner-passkey-refused")


def test_the_page_pins_the_chains_owner_contracts(stack: Stack) -> None:
    """The page derives accounts and signers from addresses it holds itself (api/static/owner-sign.js):
    they must be the chain's (CREATE2: the same on every chain)."""
    script = (Path(__file__).resolve().parents[2] / "api" / "static" / "owner-sign.js").read_text()
    pinned = dict(re.findall(r'(factory|implementation|verifier): "(0x[0-9a-fA-F]{40})"', script))
    owners = stack.runtime.chain.owner_contracts
    assert pinned == {"factory": owners.factory, "implementation": owners.implementation, "verifier": owners.verifier}


def test_a_device_is_removed_by_another_and_the_last_one_stays(stack: Stack) -> None:
    first, owner = new_owner(stack)
    session = bearer(owner["token"])
    problem(
        stack.client.get(f"/v1/owners/me/passkeys/{first.id}/removal", headers=session), 409, "owner-no-other-passkey"
    )
    second = Authenticator(ORIGIN)
    started = stack.client.post("/v1/owners/me/passkeys/options", headers=session).json()
    body = {"challenge_id": started["challenge_id"], "credential": second.register(started["options"])}
    ask = stack.client.post("/v1/owners/me/passkeys", json=body, headers=session).json()["to_sign"]
    signed = {"deadline": ask["deadline"], "account_nonce": ask["account_nonce"]}
    url = f"/v1/owners/me/passkeys/{second.id}/signers"
    assert stack.client.post(
        url, json=signed | {"credential": first.answer(challenge_of(ask))}, headers=session
    ).is_success

    ask = stack.client.get(f"/v1/owners/me/passkeys/{first.id}/removal", headers=session).json()
    assert ask["allow_credentials"] == [second.id]
    signed = {"deadline": ask["deadline"], "account_nonce": ask["account_nonce"]}
    url = f"/v1/owners/me/passkeys/{first.id}/removal"
    r = stack.client.post(url, json=signed | {"credential": second.answer(challenge_of(ask))}, headers=session)
    assert r.status_code == 200, r.text
    chain = stack.runtime.chain
    assert not chain.account_has_signer(owner["account"], first.key.qx, first.key.qy)
    listed = stack.client.get("/v1/owners/me/passkeys", headers=session).json()
    assert [p["credential_id"] for p in listed] == [second.id]
    problem(sign_in(stack, first), 401, "owner-sign-in-refused")
    problem(
        stack.client.get(f"/v1/owners/me/passkeys/{second.id}/removal", headers=session), 409, "owner-no-other-passkey"
    )
