"""The service never pays for a relay its simulation says needs more gas than its cap, and an owner
(or a client, or two wallets bouncing one twin) cannot make it pay without end: hourly quotas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from tests.api.conftest import SIGNER_KEY, Stack, fresh_stack, physical


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path_factory.mktemp("relay-limits"),
        indexer_in_process=False,
        relay_gas_cap=60_000,  # below what a signed transfer to a new holder needs (about 72,000)
        relay_limit_per_token=3,
    ) as running:
        yield running


def signed_transfer(stack: Stack, contract: str, token: int, to: str) -> dict[str, Any]:
    typed = stack.client.get(f"/v1/twins/{contract}/{token}/transfers/typed-data", params={"to": to}).json()
    signature = Account.sign_message(encode_typed_data(full_message=typed["typed_data"]), SIGNER_KEY).signature
    m = typed["typed_data"]["message"]
    return {"to": to, "nonce": m["nonce"], "deadline": m["deadline"], "signature": "0x" + bytes(signature).hex()}


def test_a_relay_over_the_gas_cap_is_refused_and_never_sent(stack: Stack) -> None:
    headers, _ = stack.new_brand("Gas Cap", "GAS")
    job = stack.wait_job(headers, stack.client.post("/v1/twins", json=physical("G-1"), headers=headers).json()["id"])
    contract, token = job["twins"][0]["contract"], job["twins"][0]["token_id"]
    signer = Account.from_key(SIGNER_KEY).address
    sent = stack.runtime.w3.eth.get_transaction_count(signer)
    r = stack.client.post(
        f"/v1/twins/{contract}/{token}/transfers",
        json=signed_transfer(stack, contract, token, Account.create().address),
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/relay-too-expensive"), r.text
    assert stack.runtime.w3.eth.get_transaction_count(signer) == sent  # nothing broadcast
    assert stack.client.get(f"/v1/twins/{contract}/{token}").json()["on_chain"]["owner"] == signer


def test_relays_for_one_twin_stop_at_its_hourly_quota(stack: Stack) -> None:
    headers, _ = stack.new_brand("Quota House", "QTA")
    job = stack.wait_job(headers, stack.client.post("/v1/twins", json=physical("Q-1"), headers=headers).json()["id"])
    contract, token = job["twins"][0]["contract"], job["twins"][0]["token_id"]
    url = f"/v1/twins/{contract}/{token}/transfers"
    body = signed_transfer(stack, contract, token, Account.create().address)
    statuses = [stack.client.post(url, json=body).status_code for _ in range(4)]
    assert statuses[:3] == [422, 422, 422]  # each attempt counts, even one the cap then refuses
    r = stack.client.post(url, json=body)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # Other twins keep their own quota.
    other = stack.wait_job(headers, stack.client.post("/v1/twins", json=physical("Q-2"), headers=headers).json()["id"])
    token2 = other["twins"][0]["token_id"]
    r = stack.client.post(
        f"/v1/twins/{contract}/{token2}/transfers",
        json=signed_transfer(stack, contract, token2, Account.create().address),
    )
    assert r.status_code == 422  # refused by the cap, not by the quota
