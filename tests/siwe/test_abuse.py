"""Attacks on sign-in that cost the service rather than fool it: a nonce used as a free pass for
endless refused signatures, a client hammering verify, a contract wallet whose check loops forever,
dates at the edge of the calendar; and a session outliving the game platform that opened it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from eth_account import Account

from registry.chain.artifacts import load_hardhat
from tests.api.conftest import Stack
from tests.siwe.conftest import message_for, new_nonce, personal_sign, problem, sign_in
from tests.siwe.test_sign_in import ROOT_ARTIFACTS, _bearer, _partner
from tests.support.server import serve

BURNER = ROOT_ARTIFACTS / "TestGasBurner.sol" / "TestGasBurner.json"
FOREVER = 2**256 - 1  # TestGasBurner spins until the call runs out of gas


def _verify(stack: Stack, text: str, signature: str, headers: dict[str, str] | None = None) -> Any:
    return stack.client.post("/v1/siwe/verify", json={"message": text, "signature": signature}, headers=headers or {})


def test_refused_signatures_burn_the_nonce_after_five(stack: Stack) -> None:
    player, thief = Account.create(), Account.create()
    text = message_for(new_nonce(stack), player.address).text
    for _ in range(stack.runtime.settings.siwe_failures_per_nonce):
        problem(_verify(stack, text, personal_sign(thief, text)), 401, "siwe-signature")
    # Even the player's own signature cannot use the nonce now: a fresh one is needed.
    problem(_verify(stack, text, personal_sign(player, text)), 401, "siwe-nonce")
    assert sign_in(stack, player).status_code == 201


def test_a_client_refused_too_often_is_throttled(stack: Stack) -> None:
    game = _partner(stack, "Game Throttle")
    player, thief = Account.create(), Account.create()
    limit = stack.runtime.settings.siwe_failures_per_minute
    with serve(stack.client.app) as base, httpx.Client(base_url=base, timeout=30) as http:

        def nonce(headers: dict[str, str] | None = None) -> dict[str, Any]:
            r = http.post("/v1/siwe/nonce", headers=headers or {})
            assert r.status_code == 201, r.text
            return dict(r.json())

        codes = []
        for _ in range(limit + 2):  # a fresh nonce each time: burning nonces alone would not stop this
            text = message_for(nonce(), player.address).text
            codes.append(http.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(thief, text)}))
        assert [r.status_code for r in codes] == [401] * limit + [429, 429]
        assert int(codes[-1].headers["retry-after"]) >= 1
        problem(codes[-1], 429, "too-many-requests")
        # Throttled before anything is checked, even a good signature; a partner's key is counted apart.
        text = message_for(nonce(), player.address).text
        good = {"message": text, "signature": personal_sign(player, text)}
        assert http.post("/v1/siwe/verify", json=good).status_code == 429
        text = message_for(nonce(game["headers"]), player.address).text
        good = {"message": text, "signature": personal_sign(player, text)}
        assert http.post("/v1/siwe/verify", json=good, headers=game["headers"]).status_code == 201


def test_a_wallet_that_loops_is_refused_quickly_and_every_call_is_capped(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = stack.runtime.chain
    owner = Account.create()
    art = load_hardhat(BURNER)
    factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    wallets = {
        burn: chain.sender.transact(factory.constructor(owner.address, burn))["contractAddress"]
        for burn in (FOREVER, 3_000_000, 20_000)
    }
    calls: list[dict[str, Any]] = []
    provider = stack.runtime.w3.provider
    send = provider.make_request

    def recording(method: Any, params: Any) -> Any:
        if method == "eth_call":
            calls.append(params[0])
        return send(method, params)

    monkeypatch.setattr(provider, "make_request", recording)
    for burn in (FOREVER, 3_000_000):  # past the cap: the wallet's answer is never reached
        text = message_for(new_nonce(stack), wallets[burn]).text
        started = time.monotonic()
        problem(_verify(stack, text, personal_sign(owner, text)), 401, "siwe-signature")
        assert time.monotonic() - started < 5
    text = message_for(new_nonce(stack), wallets[20_000]).text  # a wallet within the cap still signs in
    r = _verify(stack, text, personal_sign(owner, text))
    assert r.status_code == 201 and r.json()["signature_kind"] == "erc1271", r.text
    cap = stack.runtime.settings.siwe_call_gas
    assert len(calls) == 3 and all(int(c["gas"], 16) == cap for c in calls), calls


@pytest.mark.parametrize(
    "stamp", ["0000-01-01T00:00:00Z", "9999-12-31T23:59:60Z", "0001-01-01T00:00:00+01:00", "٢٠٢٦-01-02T03:04:05Z"]
)
def test_dates_at_the_calendars_edges_are_client_errors(stack: Stack, stamp: str) -> None:
    player = Account.create()
    base = message_for(new_nonce(stack), player.address)
    for text in (
        base.text.replace(base.issued_at, stamp),
        base.text.replace(f"Expiration Time: {base.expiration_time}", f"Expiration Time: {stamp}"),
    ):
        problem(_verify(stack, text, personal_sign(player, text)), 422, "invalid-siwe-message")


def test_a_revoked_partners_sessions_end_with_its_key(stack: Stack) -> None:
    game, other = _partner(stack, "Game Revoked"), _partner(stack, "Game Kept")
    player = Account.create()
    token = sign_in(stack, player, game["headers"]).json()["token"]
    kept = sign_in(stack, player, other["headers"]).json()["token"]
    own = sign_in(stack, player).json()["token"]
    assert stack.client.get("/v1/siwe/session", headers=_bearer(token)).status_code == 200
    r = stack.client.post(f"/v1/partners/{game['id']}/revoke", headers=game["headers"])
    problem(r, 401, "unauthenticated")  # only the operator revokes
    assert stack.client.post(f"/v1/partners/{game['id']}/revoke", headers=stack.operator).status_code == 204
    problem(stack.client.get("/v1/siwe/session", headers=_bearer(token)), 401, "unauthenticated")
    problem(stack.client.get("/v1/me/twins", headers=_bearer(token)), 401, "unauthenticated")
    problem(stack.client.post("/v1/siwe/nonce", headers=game["headers"]), 401, "unauthenticated")
    for live in (kept, own):  # another game's session and the player's own are untouched
        assert stack.client.get("/v1/siwe/session", headers=_bearer(live)).status_code == 200
    problem(stack.client.post("/v1/partners/tmp_nope/revoke", headers=stack.operator), 404, "not-found")
