"""Times and numbers that go on chain, where the chain cannot hold them: each is a 422 problem, never a
500 (Schemathesis found `{"since": "0060-09-10T00:33:38Z"}` answering 500). Compromise starts are a
uint64 of block time after 0 and not after the latest block; signed deadlines and nonces are uint256."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account

from tests.api.conftest import Stack, physical

UNHOLDABLE_STARTS: list[Any] = [
    "0060-09-10T00:33:38Z",  # the fuzzer's find: a negative epoch
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00",  # no zone: UTC, still year 1
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00.5Z",  # second 0: the registry's "no window"
    -1,
    0,
    2**64,  # past uint64
    10**30,
    2**64 - 1,  # a uint64, but far in the future
    "9999-12-31T23:59:59-14:00",
    "2999-01-01T00:00:00Z",
]


@pytest.fixture(scope="module")
def brand(stack: Stack) -> dict[str, Any]:
    headers, collection = stack.new_brand("Clockwork", "CLK")
    brand_id = stack.client.get("/v1/brands/me", headers=headers).json()["id"]
    job = stack.client.post("/v1/batches", json={"twins": [physical("CLK-1")]}, headers=headers).json()
    token_id = stack.wait_job(headers, job["id"])["twins"][0]["token_id"]
    return {"id": brand_id, "headers": headers, "twin": f"/v1/twins/{collection}/{token_id}"}


def invalid(r: Any) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/invalid-input")


@pytest.mark.parametrize("since", UNHOLDABLE_STARTS, ids=str)
def test_a_compromise_start_the_chain_cannot_hold_is_422(stack: Stack, brand: dict[str, Any], since: Any) -> None:
    invalid(stack.client.post(f"/v1/brands/{brand['id']}/compromise", json={"since": since}, headers=stack.operator))
    # Refused before anything happened: the brand's key still works.
    assert stack.client.get("/v1/brands/me", headers=brand["headers"]).status_code == 200


def test_a_time_without_a_zone_is_utc_and_a_holdable_one_opens_the_window(stack: Stack, brand: dict[str, Any]) -> None:
    at = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0, tzinfo=None)
    r = stack.client.post(
        f"/v1/brands/{brand['id']}/compromise", json={"since": at.isoformat()}, headers=stack.operator
    )
    assert r.status_code == 200, r.text
    assert r.json()["compromised_since"] == int(at.replace(tzinfo=UTC).timestamp())
    r = stack.client.post(f"/v1/brands/{brand['id']}/compromise/resolve", headers=stack.operator)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("field", ["deadline", "nonce"])
@pytest.mark.parametrize("action", ["transfers", "status"])
def test_a_signed_deadline_or_nonce_past_uint256_is_422(
    stack: Stack, brand: dict[str, Any], action: str, field: str
) -> None:
    body: dict[str, Any] = {"nonce": 0, "deadline": 2**40, "signature": "0x" + "11" * 65}
    body |= {"to": Account.create().address} if action == "transfers" else {"status": "lost"}
    body[field] = 2**256
    invalid(stack.client.post(f"{brand['twin']}/{action}", json=body))
