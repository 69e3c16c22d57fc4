"""Sign-In with Ethereum over real HTTP against a real stack: a player signs in with an EOA key or an
ERC-1271 contract wallet on Anvil, and every attack on the flow is refused for its own reason."""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import errors
from api.deps import PlayerDep
from registry.chain.artifacts import load_hardhat
from registry.errors import Forbidden
from registry.siwe.models import SiweNonce, SiweSession
from tests.api.conftest import Stack
from tests.siwe.conftest import iso, message_for, new_nonce, personal_sign, problem, sign_in
from tests.support.server import serve

ROOT_ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "contracts" / "test"
WALLET = ROOT_ARTIFACTS / "TestContractWallet.sol" / "TestContractWallet.json"


# Every test here refuses something from the one TestClient address within a minute; the per-client
# limit of refusals has its own test (tests/siwe/test_abuse.py) with the default.
STACK_SETTINGS = {"siwe_failures_per_minute": 1_000}


def _partner(stack: Stack, name: str) -> dict[str, Any]:
    r = stack.client.post("/v1/partners", json={"name": name}, headers=stack.operator)
    assert r.status_code == 201, r.text
    body = r.json()
    return {"id": body["id"], "headers": {"Authorization": f"Bearer {body['api_key']}"}}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_player_signs_in_and_the_session_says_who(stack: Stack) -> None:
    player = Account.create()
    nonce = new_nonce(stack)
    assert nonce["domain"] == "127.0.0.1:8000" and nonce["uri"] == "http://127.0.0.1:8000"
    assert nonce["chain_id"] == stack.runtime.chain.chain_id and len(nonce["nonce"]) >= 8
    text = message_for(nonce, player.address).text
    r = stack.client.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(player, text)})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["address"] == player.address and body["partner"] is None and body["signature_kind"] == "eoa"
    assert body["token"].startswith("tms_")
    # The session ends with the message's Expiration Time (10 minutes) rather than after an hour.
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    who = stack.client.get("/v1/siwe/session", headers=_bearer(body["token"]))
    assert who.status_code == 200, who.text
    assert who.json()["address"] == player.address and body["token"] not in who.text


def test_a_partner_scoped_session_names_the_game(stack: Stack) -> None:
    game = _partner(stack, "Game A")
    player = Account.create()
    r = sign_in(stack, player, game["headers"])
    assert r.status_code == 201, r.text
    assert r.json()["partner"] == {"id": game["id"], "name": "Game A"}
    who = stack.client.get("/v1/siwe/session", headers=_bearer(r.json()["token"])).json()
    assert who["partner"]["id"] == game["id"]


def test_replayed_message_is_refused(stack: Stack) -> None:
    player = Account.create()
    text = message_for(new_nonce(stack), player.address).text
    body = {"message": text, "signature": personal_sign(player, text)}
    assert stack.client.post("/v1/siwe/verify", json=body).status_code == 201
    problem(stack.client.post("/v1/siwe/verify", json=body), 401, "siwe-nonce")


def test_concurrent_replays_open_exactly_one_session(stack: Stack) -> None:
    player = Account.create()
    text = message_for(new_nonce(stack), player.address).text
    body = {"message": text, "signature": personal_sign(player, text)}
    with (
        serve(stack.client.app) as base,
        httpx.Client(base_url=base, timeout=30) as http,
        ThreadPoolExecutor(6) as pool,
    ):
        codes = sorted(pool.map(lambda _: http.post("/v1/siwe/verify", json=body).status_code, range(6)))
    assert codes.count(201) == 1 and set(codes) <= {201, 401, 503}, codes


def test_nonce_not_issued_here_or_issued_to_another_caller_is_refused(stack: Stack) -> None:
    player = Account.create()
    game_a, game_b = _partner(stack, "Game N1"), _partner(stack, "Game N2")
    invented = message_for(new_nonce(stack), player.address, nonce="abcdefgh12345678").text
    r = stack.client.post("/v1/siwe/verify", json={"message": invented, "signature": personal_sign(player, invented)})
    problem(r, 401, "siwe-nonce")
    # A nonce game A asked for cannot be spent by game B, nor anonymously, but still by game A.
    nonce = new_nonce(stack, game_a["headers"])
    text = message_for(nonce, player.address).text
    body = {"message": text, "signature": personal_sign(player, text)}
    problem(stack.client.post("/v1/siwe/verify", json=body, headers=game_b["headers"]), 401, "siwe-nonce")
    problem(stack.client.post("/v1/siwe/verify", json=body), 401, "siwe-nonce")
    assert stack.client.post("/v1/siwe/verify", json=body, headers=game_a["headers"]).status_code == 201


def test_expired_nonce_is_refused(stack: Stack) -> None:
    player = Account.create()
    nonce = new_nonce(stack)
    with Session(stack.runtime.engine) as s:  # the nonce's 5 minutes are over
        row = s.get(SiweNonce, hashlib.sha256(nonce["nonce"].encode()).hexdigest())
        assert row is not None
        row.expires_at = int(time.time()) - 1
        s.add(row)
        s.commit()
    text = message_for(nonce, player.address).text
    r = stack.client.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(player, text)})
    problem(r, 401, "siwe-nonce")


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"expiration_time": -timedelta(seconds=5)}, "siwe-expired"),
        ({"not_before": timedelta(minutes=5)}, "siwe-not-yet-valid"),
        ({"issued_at": timedelta(minutes=5)}, "siwe-issued-in-future"),
        ({"domain": "twinmark-login.example"}, "siwe-wrong-domain"),  # phishing site
        ({"domain": "127.0.0.1:8001"}, "siwe-wrong-domain"),
        ({"scheme": "https"}, "siwe-wrong-domain"),
        ({"uri": "https://twinmark-login.example/play"}, "siwe-wrong-uri"),
        ({"uri": "http://127.0.0.1:8000@evil.example/"}, "siwe-wrong-uri"),
        ({"chain_id": 1}, "siwe-wrong-chain"),
    ],
)
def test_message_for_another_place_or_time_is_refused(stack: Stack, override: dict[str, Any], code: str) -> None:
    # Times are offsets from when the test runs (parameters are built at collection, minutes earlier).
    override = {k: iso(datetime.now(UTC) + v) if isinstance(v, timedelta) else v for k, v in override.items()}
    player = Account.create()
    nonce = new_nonce(stack)
    text = message_for(nonce, player.address, **override).text
    r = stack.client.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(player, text)})
    problem(r, 401, code)
    # The nonce is still good for the right message: a refused attempt does not burn it.
    good = message_for(nonce, player.address).text
    assert (
        stack.client.post(
            "/v1/siwe/verify", json={"message": good, "signature": personal_sign(player, good)}
        ).status_code
        == 201
    )


def test_signature_by_another_key_or_over_another_text_is_refused(stack: Stack) -> None:
    player, thief = Account.create(), Account.create()
    nonce = new_nonce(stack)
    text = message_for(nonce, player.address).text
    r = stack.client.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(thief, text)})
    problem(r, 401, "siwe-signature")
    signature = personal_sign(player, text)
    for tampered in (
        text.replace("Sign in to play", "Sign in to pay"),
        text.replace("ipfs://bafy", "ipfs://bafz"),
        text + "\n- https://evil.example/all-my-items",
    ):
        problem(
            stack.client.post("/v1/siwe/verify", json={"message": tampered, "signature": signature}),
            401,
            "siwe-signature",
        )
    # Four refusals leave the nonce live (the fifth would burn it: tests/siwe/test_abuse.py).
    assert stack.client.post("/v1/siwe/verify", json={"message": text, "signature": signature}).status_code == 201
    other = message_for(new_nonce(stack), player.address).text
    broken = personal_sign(player, other)[:-2] + "1f"  # recovery byte 31: no signer at all
    problem(stack.client.post("/v1/siwe/verify", json={"message": other, "signature": broken}), 401, "siwe-signature")


def test_malformed_messages_are_client_errors(stack: Stack) -> None:
    player = Account.create()
    text = message_for(new_nonce(stack), player.address).text
    lower = text.replace(player.address, player.address.lower())
    problem(
        stack.client.post("/v1/siwe/verify", json={"message": lower, "signature": personal_sign(player, lower)}),
        422,
        "invalid-siwe-message",
    )
    crlf = text.replace("\n", "\r\n")
    problem(
        stack.client.post("/v1/siwe/verify", json={"message": crlf, "signature": personal_sign(player, crlf)}),
        422,
        "invalid-siwe-message",
    )
    problem(stack.client.post("/v1/siwe/verify", json={"message": text, "signature": "0xzz"}), 422, "invalid-input")


def test_a_brand_key_cannot_open_player_sessions(stack: Stack) -> None:
    headers, _ = stack.new_brand("SIWE Brand", "SIWB")
    problem(stack.client.post("/v1/siwe/nonce", headers=headers), 403, "forbidden")
    problem(
        stack.client.post("/v1/siwe/nonce", headers={"Authorization": "Bearer tmp_nope_nope"}), 401, "unauthenticated"
    )


def test_erc1271_contract_wallet_signs_in(stack: Stack) -> None:
    chain = stack.runtime.chain
    owner, stranger = Account.create(), Account.create()
    art = load_hardhat(WALLET)
    receipt = chain.sender.transact(
        chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(owner.address)
    )
    wallet = receipt["contractAddress"]
    nonce = new_nonce(stack)
    text = message_for(nonce, wallet).text
    # The wallet's owner key signs for it; another key, and a garbage signature, do not.
    problem(
        stack.client.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(stranger, text)}),
        401,
        "siwe-signature",
    )
    problem(
        stack.client.post("/v1/siwe/verify", json={"message": text, "signature": "0x" + "00" * 10}),
        401,
        "siwe-signature",
    )
    r = stack.client.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(owner, text)})
    assert r.status_code == 201, r.text
    assert r.json()["address"] == wallet and r.json()["signature_kind"] == "erc1271"
    # The owner's key cannot sign in as the owner's own address with the wallet's message.
    mine = message_for(new_nonce(stack), owner.address).text
    assert (
        stack.client.post(
            "/v1/siwe/verify", json={"message": mine, "signature": personal_sign(owner, mine)}
        ).status_code
        == 201
    )


def test_sign_out_and_expiry_end_the_session(stack: Stack) -> None:
    player = Account.create()
    token = sign_in(stack, player).json()["token"]
    assert stack.client.get("/v1/siwe/session", headers=_bearer(token)).status_code == 200
    assert stack.client.delete("/v1/siwe/session", headers=_bearer(token)).status_code == 204
    problem(stack.client.get("/v1/siwe/session", headers=_bearer(token)), 401, "unauthenticated")
    problem(stack.client.delete("/v1/siwe/session", headers=_bearer(token)), 401, "unauthenticated")
    # A message that expires in 2 s opens a session that ends with it.
    soon = datetime.now(UTC) + timedelta(seconds=2)
    r = sign_in(stack, player, expiration_time=iso(soon))
    assert r.status_code == 201, r.text
    short = r.json()["token"]
    assert stack.client.get("/v1/siwe/session", headers=_bearer(short)).status_code == 200
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 1.1)
    problem(stack.client.get("/v1/siwe/session", headers=_bearer(short)), 401, "unauthenticated")


def test_forged_or_foreign_tokens_are_refused(stack: Stack) -> None:
    game = _partner(stack, "Game T")
    for bad in (
        "tms_" + "A" * 43,
        game["headers"]["Authorization"].split()[1],
        stack.operator["Authorization"].split()[1],
    ):
        problem(stack.client.get("/v1/siwe/session", headers=_bearer(bad)), 401, "unauthenticated")
    problem(stack.client.get("/v1/siwe/session"), 401, "unauthenticated")


def test_one_players_token_cannot_read_anothers_private_listing(stack: Stack) -> None:
    """PlayerDep in a route like the coming `GET /v1/me/twins`: the address comes from the token only."""
    app = FastAPI()
    errors.install(app)
    app.state.runtime = stack.runtime

    @app.get("/private/{address}")
    def private(address: str, player: PlayerDep) -> dict[str, str]:
        if player.address.lower() != address.lower():
            raise Forbidden("that listing is another player's")
        return {"owner": player.address}

    alice, bob = Account.create(), Account.create()
    token_a = sign_in(stack, alice).json()["token"]
    with TestClient(app) as client:
        assert client.get(f"/private/{alice.address}", headers=_bearer(token_a)).json() == {"owner": alice.address}
        problem(client.get(f"/private/{bob.address}", headers=_bearer(token_a)), 403, "forbidden")
        problem(client.get(f"/private/{bob.address}"), 401, "unauthenticated")


def test_token_is_stored_hashed_never_logged_and_shown_once(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    player = Account.create()
    caplog.set_level(logging.DEBUG)
    nonce = new_nonce(stack)
    text = message_for(nonce, player.address).text
    body = {"message": text, "signature": personal_sign(player, text)}
    first = stack.client.post("/v1/siwe/verify", json=body)
    token = first.json()["token"]
    answers = [
        stack.client.get("/v1/siwe/session", headers=_bearer(token)).text,
        stack.client.post("/v1/siwe/verify", json=body).text,  # the same sign-in again: no second token
    ]
    assert all(token not in a for a in answers) and "tms_" not in answers[1]
    assert all(token not in record.getMessage() for record in caplog.records)
    assert all(nonce["nonce"] not in record.getMessage() for record in caplog.records)
    with Session(stack.runtime.engine) as s:
        rows = s.exec(select(SiweSession).where(SiweSession.address == player.address)).all()
        assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
        assert all(token not in repr(r) for r in rows)
        assert s.exec(select(SiweNonce).where(SiweNonce.nonce_hash == nonce["nonce"])).first() is None


def test_nonces_are_rate_limited_per_client(stack: Stack) -> None:
    """Every nonce is a row until it expires: one client cannot mint them without end."""
    game = _partner(stack, "Game R")
    with serve(stack.client.app) as base, httpx.Client(base_url=base, timeout=30) as http:
        codes = [http.post("/v1/siwe/nonce").status_code for _ in range(125)]
        assert codes[:120] == [201] * 120 and set(codes[120:]) == {429}
        refused = http.post("/v1/siwe/nonce")
        problem(refused, 429, "too-many-requests")
        assert int(refused.headers["retry-after"]) >= 1
        # Another caller (a partner's key) is counted apart and still served.
        assert http.post("/v1/siwe/nonce", headers=game["headers"]).status_code == 201
