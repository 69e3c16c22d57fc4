"""An attacker who knows a twin's (public) token id cannot lock its buyer out by guessing secrets:
wrong guesses are counted and refused (429 with Retry-After) per client and twin, per client, per
recipient and under a high per-twin ceiling, and the right secret is refused by none of them, not even
from the guesser's own address (a shop's Wi-Fi, a carrier's NAT)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eth_account import Account
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import Stack, physical


@contextmanager
def client_at(stack: Stack, address: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=stack.runtime), client=(address, 40000)) as client:
        yield client


def claimable(stack: Stack, serials: list[str]) -> tuple[str, dict[str, Any]]:
    headers, _ = stack.new_brand(f"Lockout {serials[0]}", "LCK")
    twins = [physical(s, code="871234567892") | {"claimable": True} for s in serials]
    job = stack.wait_job(headers, stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()["id"])
    secrets = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=headers).json()["secrets"]
    return secrets[0]["contract"], {row["serial"]: row for row in secrets}


def guess(client: TestClient, url: str, status: int, recipient: str | None = None) -> None:
    r = client.post(url, json={"secret": "Q" * 32, "recipient": recipient or Account.create().address})
    code = "wrong-claim-secret" if status == 403 else "too-many-requests"
    assert r.status_code == status and r.json()["type"].endswith("/" + code), r.text
    if status == 429:
        assert 0 < int(r.headers["Retry-After"]) <= 15 * 60


def claimed(client: TestClient, url: str, secret: str, buyer: str) -> None:
    r = client.post(url, json={"secret": secret, "recipient": buyer})
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == buyer


def test_guessing_from_one_client_does_not_lock_out_the_buyer(stack: Stack) -> None:
    contract, rows = claimable(stack, ["LO-1"])
    url = f"/v1/twins/{contract}/{rows['LO-1']['token_id']}/claim"
    with client_at(stack, "203.0.113.7") as attacker:
        for _ in range(5):
            guess(attacker, url, 403)
        guess(attacker, url, 429)
    with client_at(stack, "198.51.100.20") as shop:
        claimed(shop, url, rows["LO-1"]["secret"], Account.create().address)


def test_the_buyer_behind_the_guessers_address_still_claims(stack: Stack) -> None:
    """The attack: five wrong guesses from the shop's one public address, then the genuine buyer on the
    shop's Wi-Fi types the right secret. Limits count wrong secrets only, so it is claimed at once; the
    guesser stays refused."""
    contract, rows = claimable(stack, ["LO-3"])
    url = f"/v1/twins/{contract}/{rows['LO-3']['token_id']}/claim"
    with client_at(stack, "198.51.100.30") as shop_wifi:
        for _ in range(5):
            guess(shop_wifi, url, 403)
        guess(shop_wifi, url, 429)
        claimed(shop_wifi, url, rows["LO-3"]["secret"], Account.create().address)
        guess(shop_wifi, url, 429)  # the right secret did not reset the guesser's count


def test_guesses_naming_the_buyer_as_recipient_do_not_lock_the_buyer_out(stack: Stack) -> None:
    """Wrong guesses from many addresses that name the buyer as recipient use up the per-recipient limit
    (20); the buyer's right secret still claims, for that very recipient."""
    contract, rows = claimable(stack, ["LO-4"])
    url = f"/v1/twins/{contract}/{rows['LO-4']['token_id']}/claim"
    buyer = Account.create().address
    for n in range(20):
        with client_at(stack, f"192.0.2.{100 + n}") as bot:
            guess(bot, url, 403, recipient=buyer)
    with client_at(stack, "192.0.2.200") as bot:
        guess(bot, url, 429, recipient=buyer)
    with client_at(stack, "198.51.100.22") as buyers_phone:
        claimed(buyers_phone, url, rows["LO-4"]["secret"], buyer)


def test_the_per_twin_ceiling_is_high_and_holds_for_guesses_only(stack: Stack) -> None:
    contract, rows = claimable(stack, ["LO-2"])
    url = f"/v1/twins/{contract}/{rows['LO-2']['token_id']}/claim"
    for n in range(20):  # a botnet: 20 addresses, 5 guesses each
        with client_at(stack, f"192.0.2.{n + 1}") as bot:
            for _ in range(5):
                guess(bot, url, 403)
    with client_at(stack, "198.51.100.21") as shop:
        guess(shop, url, 429)  # the 101st wrong secret, from a fresh address: the ceiling holds
        claimed(shop, url, rows["LO-2"]["secret"], Account.create().address)
