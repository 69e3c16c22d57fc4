"""An attacker who knows a twin's (public) token id cannot lock its buyer out by guessing secrets:
wrong guesses are limited per client (429 with Retry-After), not per twin, under one high per-twin
ceiling no single client reaches."""

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


def test_guessing_from_one_client_does_not_lock_out_the_buyer(stack: Stack) -> None:
    contract, rows = claimable(stack, ["LO-1"])
    url = f"/v1/twins/{contract}/{rows['LO-1']['token_id']}/claim"
    with client_at(stack, "203.0.113.7") as attacker:
        for _ in range(5):
            r = attacker.post(url, json={"secret": "Q" * 32, "recipient": Account.create().address})
            assert r.status_code == 403 and r.json()["type"].endswith("/wrong-claim-secret")
        r = attacker.post(url, json={"secret": "Q" * 32, "recipient": Account.create().address})
        assert r.status_code == 429 and r.json()["type"].endswith("/too-many-requests")
        assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    buyer = Account.create().address
    with client_at(stack, "198.51.100.20") as shop:
        r = shop.post(url, json={"secret": rows["LO-1"]["secret"], "recipient": buyer})
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == buyer


def test_the_per_twin_ceiling_is_high_and_holds(stack: Stack) -> None:
    contract, rows = claimable(stack, ["LO-2"])
    url = f"/v1/twins/{contract}/{rows['LO-2']['token_id']}/claim"
    for n in range(20):  # a botnet: 20 addresses, 5 guesses each
        with client_at(stack, f"192.0.2.{n + 1}") as bot:
            for _ in range(5):
                assert (
                    bot.post(url, json={"secret": "Z" * 32, "recipient": Account.create().address}).status_code == 403
                )
    with client_at(stack, "198.51.100.21") as shop:
        r = shop.post(url, json={"secret": rows["LO-2"]["secret"], "recipient": Account.create().address})
    assert r.status_code == 429 and "Retry-After" in r.headers
