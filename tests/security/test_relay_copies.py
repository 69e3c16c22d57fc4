"""Copies of one signed relay sent at the same moment cost the service one transaction, not one each
(every other copy would revert on chain at the service's expense)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from tests.api.conftest import SIGNER_KEY, Stack, physical


def test_concurrent_copies_of_a_signed_transfer_are_sent_once(stack: Stack) -> None:
    headers, _ = stack.new_brand("Relay House", "RLY")
    job = stack.wait_job(headers, stack.client.post("/v1/twins", json=physical("R-1"), headers=headers).json()["id"])
    contract, token = job["twins"][0]["contract"], job["twins"][0]["token_id"]
    owner = Account.from_key(SIGNER_KEY)  # the custodian holds the fresh twin
    base = f"/v1/twins/{contract}/{token}/transfers"
    to = Account.create().address
    typed = stack.client.get(base + "/typed-data", params={"to": to}).json()["typed_data"]
    signature = Account.sign_message(encode_typed_data(full_message=typed), owner.key).signature
    body = {
        "to": to,
        "nonce": typed["message"]["nonce"],
        "deadline": typed["message"]["deadline"],
        "signature": "0x" + bytes(signature).hex(),
    }
    w3 = stack.runtime.w3
    sent_before = w3.eth.get_transaction_count(owner.address)
    # Blocks every second: the first copy stays pending while the others arrive, as on a real network.
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
    try:
        with ThreadPoolExecutor(8) as pool:
            answers: list[Any] = list(pool.map(lambda _: stack.client.post(base, json=body), range(8)))
    finally:
        w3.provider.make_request("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    ok = [a.json()["tx_hash"] for a in answers if a.status_code == 200]
    assert ok and len(set(ok)) == 1, [(a.status_code, a.text) for a in answers]
    assert all(a.status_code == 200 or a.json()["type"].endswith("/stale-nonce") for a in answers)
    assert w3.eth.get_transaction_count(owner.address) - sent_before == 1
    assert stack.client.get(f"/v1/twins/{contract}/{token}").json()["on_chain"]["owner"] == to
