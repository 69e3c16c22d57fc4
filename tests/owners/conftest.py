"""A real stack for owners' passkeys: Anvil under Osaka (the P-256 precompile, so transfers take the
collection's ERC-1271 path), SQLite and PostgreSQL, a brand with claimable twins, and the ceremonies
through the API with a software authenticator (tests/owners/authenticator.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from registry.chain.anvil import Anvil
from tests.api.conftest import Stack, _database_url, physical, running_stack, stack_settings
from tests.owners.authenticator import Authenticator

ORIGIN = "https://owners.example"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"owners-{request.param}")
    anvil = Anvil(hardfork="osaka")
    anvil.start()
    settings = stack_settings(tmp, anvil, database_url=_database_url(request, tmp), public_url=ORIGIN)
    with running_stack(settings, anvil) as running:
        yield running


@dataclass
class Brand:
    headers: dict[str, str]
    collection: str
    secrets: dict[int, str]  # token id -> claim secret
    used: int = 0

    def next_token(self) -> tuple[int, str]:
        token = sorted(self.secrets)[self.used]
        self.used += 1
        return token, self.secrets[token]


@pytest.fixture(scope="module")
def brand(stack: Stack) -> Brand:
    headers, collection = stack.new_brand("Maison Passkey", "MPK")
    twins = [physical(f"PK-{i}", code="871234567892") | {"claimable": True} for i in range(10)]
    job = stack.wait_job(headers, stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()["id"])
    assert job["state"] == "completed", job
    rows = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=headers).json()["secrets"]
    by_serial = {row["serial"]: row["secret"] for row in rows}
    return Brand(headers, collection, {t["token_id"]: by_serial[t["serial"]] for t in job["twins"]})


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + code), r.json()
    return dict(r.json())


def register(stack: Stack, auth: Authenticator, **kw: Any) -> httpx.Response:
    started = stack.client.post("/v1/owners/passkeys/options").json()
    credential = auth.register(started["options"], **kw)
    body = {"challenge_id": started["challenge_id"], "credential": credential}
    answer: httpx.Response = stack.client.post("/v1/owners/passkeys", json=body)
    return answer


def new_owner(stack: Stack, **kw: Any) -> tuple[Authenticator, dict[str, Any]]:
    auth = Authenticator(ORIGIN, **kw)
    r = register(stack, auth)
    assert r.status_code == 201, r.text
    return auth, dict(r.json())


def sign_in(stack: Stack, auth: Authenticator, **kw: Any) -> httpx.Response:
    started = stack.client.post("/v1/owners/sign-in/options").json()
    credential = auth.assert_options(started["options"], **kw)
    body = {"challenge_id": started["challenge_id"], "credential": credential}
    answer: httpx.Response = stack.client.post("/v1/owners/sign-in", json=body)
    return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claim_to(stack: Stack, brand: Brand, account: str) -> int:
    token, secret = brand.next_token()
    r = stack.client.post(f"/v1/twins/{brand.collection}/{token}/claim", json={"secret": secret, "recipient": account})
    assert r.status_code == 200, r.text
    return token


def challenge_of(to_sign: dict[str, Any]) -> bytes:
    return bytes.fromhex(to_sign["challenge"].removeprefix("0x"))
