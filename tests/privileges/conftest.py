"""A real stack per test module (Anvil, the in-process indexer, SQLite or PostgreSQL) with a brand
whose claimable twins are minted, and helpers: claim, sign in (SIWE, an EOA), resell by a signed
transfer relayed by the service, wait for the indexer, define privileges."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlmodel import select

from registry.chain.anvil import Anvil
from registry.db.engine import session_scope
from registry.twins.models import Twin
from tests.api.conftest import Stack, _database_url, physical, running_stack, stack_settings
from tests.api.test_lifecycle import sign
from tests.siwe.conftest import sign_in

SERIALS = 12


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"priv-{request.param}")
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp,
        anvil,
        database_url=_database_url(request, tmp),
        siwe_failures_per_minute=1_000,
        webhook_allow_private_targets=True,
        indexer_poll_seconds=0.05,
    )
    with running_stack(settings, anvil) as running:
        yield running


@dataclass
class World:
    stack: Stack
    brand: dict[str, str]  # the brand's API key header
    collection: str
    tokens: list[int]
    secrets: dict[int, str]
    other: dict[str, str]  # another brand's key
    other_collection: str
    next_twin: int = 0

    def new_twin(self) -> int:
        token = self.tokens[self.next_twin]
        self.next_twin += 1
        return token

    def claim(self, token: int, owner: LocalAccount) -> None:
        r = self.stack.client.post(
            f"/v1/twins/{self.collection}/{token}/claim",
            json={"secret": self.secrets[token], "recipient": owner.address},
        )
        assert r.status_code == 200, r.text
        wait_indexed(self.stack, self.collection, token, owner.address, claimed=True)

    def owned_twin(self, owner: LocalAccount | None = None) -> tuple[LocalAccount, int]:
        owner = owner or Account.create()
        token = self.new_twin()
        self.claim(token, owner)
        return owner, token

    def privilege(self, kind: str = "redeem_once", headers: dict[str, str] | None = None, **extra: Any) -> int:
        body = {"kind": kind, "name": {"en": f"Privilege {kind}", "zh": f"权益 {kind}"}} | extra
        r = self.stack.client.post("/v1/privileges", json=body, headers=headers or self.brand)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def session_of(stack: Stack, account: LocalAccount) -> dict[str, str]:
    r = sign_in(stack, account)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def wait_indexed(
    stack: Stack, collection: str, token: int, owner: str, *, claimed: bool | None = None, timeout: float = 30
) -> Twin:
    """The twin's row once the indexer has seen it go to `owner`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.runtime.indexer.wake()
        with session_scope(stack.runtime.engine) as s:
            twin = s.exec(select(Twin).where(Twin.collection == collection, Twin.token_id == token)).first()
        if twin is not None and twin.owner == owner and (claimed is None or twin.claimed == claimed):
            return twin
        time.sleep(0.05)
    raise TimeoutError(f"twin {token} not indexed as {owner}'s")


def transfer(stack: Stack, collection: str, token: int, owner: LocalAccount, to: str) -> None:
    """A resale: the owner signs EIP-712, the service relays it; then the indexer sees it."""
    base = f"/v1/twins/{collection}/{token}/transfers"
    typed = stack.client.get(base + "/typed-data", params={"to": to}).json()
    message = typed["typed_data"]["message"]
    body = {"to": to, "nonce": message["nonce"], "deadline": message["deadline"]}
    r = stack.client.post(base, json=body | {"signature": sign(owner, typed["typed_data"])})
    assert r.status_code == 200, r.text
    wait_indexed(stack, collection, token, to)


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    brand, collection = stack.new_brand("Maison Privilege", "PRIV")
    other, other_collection = stack.new_brand("Other House", "OTHR")
    twins = [physical(f"P-{i}", code="871234567890") | {"claimable": True} for i in range(SERIALS)]
    job = stack.wait_job(brand, stack.client.post("/v1/batches", json={"twins": twins}, headers=brand).json()["id"])
    assert job["state"] == "completed", job
    rows = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=brand).json()["secrets"]
    by_serial = {t["serial"]: t["token_id"] for t in job["twins"]}
    tokens = [by_serial[f"P-{i}"] for i in range(SERIALS)]
    return World(
        stack, brand, collection, tokens, {by_serial[r["serial"]]: r["secret"] for r in rows}, other, other_collection
    )
