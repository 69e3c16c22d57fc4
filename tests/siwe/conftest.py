"""A real stack (Anvil, SQLite and PostgreSQL) for the sign-in tests, and helpers to sign in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from registry.chain.anvil import Anvil
from registry.siwe.message import SiweMessage
from tests.api.conftest import Stack, _database_url, running_stack, stack_settings


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"siwe-{request.param}")
    anvil = Anvil()
    anvil.start()
    overrides = getattr(request.module, "STACK_SETTINGS", {})
    settings = stack_settings(tmp, anvil, database_url=_database_url(request, tmp), **overrides)
    with running_stack(settings, anvil) as running:
        yield running


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def message_for(issued: dict[str, Any], address: str, /, **override: Any) -> SiweMessage:
    """The message a game would build from `POST /v1/siwe/nonce`'s answer."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "domain": issued["domain"],
        "address": address,
        "statement": "Sign in to play with the garments you own.",
        "uri": issued["uri"] + "/play",
        "chain_id": issued["chain_id"],
        "nonce": issued["nonce"],
        "issued_at": iso(now),
        "expiration_time": iso(now + timedelta(minutes=10)),
        "resources": ("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",),
    }
    return SiweMessage(**(fields | override))


def personal_sign(account: LocalAccount, text: str) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), account.key).signature).hex()


def new_nonce(stack: Stack, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = stack.client.post("/v1/siwe/nonce", headers=headers or {})
    assert r.status_code == 201, r.text
    return dict(r.json())


def sign_in(stack: Stack, account: LocalAccount, headers: dict[str, str] | None = None, **override: Any) -> Any:
    text = message_for(new_nonce(stack, headers), account.address, **override).text
    return stack.client.post(
        "/v1/siwe/verify", json={"message": text, "signature": personal_sign(account, text)}, headers=headers or {}
    )


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + code), body
    return dict(body)
