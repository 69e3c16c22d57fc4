"""Relayed calls are bounded in time: a transaction not mined within `TWINMARK_RELAY_WAIT_SECONDS` is
answered 202 with `"state": "pending"` and followed at `GET /v1/transactions/{hash}`, while the
service keeps looking after it with no request waiting. On a real Anvil with automatic mining off,
so blocks come only when a test mines one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from registry.chain.sender import GWEI
from registry.settings import ANVIL_DEV_KEY
from tests.api.conftest import SIGNER_KEY, Stack, fresh_stack, physical
from tests.api.test_lifecycle import problem, sign

RELAY_WAIT = 1.0


def node(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


@contextmanager
def manual_mining(w3: Web3) -> Iterator[None]:
    """No block until the test mines one (`evm_mine`)."""
    node(w3, "evm_setAutomine", False)
    try:
        yield
    finally:
        node(w3, "evm_setAutomine", True)
        node(w3, "evm_mine")  # whatever is still in the pool


def wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(tmp_path_factory.mktemp("pending"), relay_wait_seconds=RELAY_WAIT) as running:
        yield running


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    brand, collection = stack.new_brand("Pending House", "PND")
    twins = [physical(f"P-{i}", code="590123412345") | {"claimable": True} for i in range(4)]
    job = stack.wait_job(brand, stack.client.post("/v1/batches", json={"twins": twins}, headers=brand).json()["id"])
    assert job["state"] == "completed", job
    secrets = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=brand).json()["secrets"]
    return {
        "brand": brand,
        "collection": collection,
        "tokens": {t["serial"]: t["token_id"] for t in job["twins"]},
        "secrets": {row["serial"]: row["secret"] for row in secrets},
    }


def claim(stack: Stack, world: dict[str, Any], serial: str, recipient: str) -> Any:
    body = {"secret": world["secrets"][serial], "recipient": recipient}
    return stack.client.post(f"/v1/twins/{world['collection']}/{world['tokens'][serial]}/claim", json=body)


def transaction(stack: Stack, tx_hash: str) -> dict[str, Any]:
    r = stack.client.get(f"/v1/transactions/{tx_hash}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def owner_of(stack: Stack, world: dict[str, Any], serial: str) -> str:
    twin = stack.client.get(f"/v1/twins/{world['collection']}/{world['tokens'][serial]}").json()
    return str(twin["on_chain"]["owner"])


def signed_transfer(stack: Stack, world: dict[str, Any], serial: str, owner: LocalAccount, to: str) -> Any:
    base = f"/v1/twins/{world['collection']}/{world['tokens'][serial]}/transfers"
    typed = stack.client.get(base + "/typed-data", params={"to": to}).json()["typed_data"]
    m = typed["message"]
    return stack.client.post(
        base, json={"to": to, "nonce": m["nonce"], "deadline": m["deadline"], "signature": sign(owner, typed)}
    )


def test_a_claim_not_mined_in_time_is_answered_pending_and_followed_until_mined(
    stack: Stack, world: dict[str, Any]
) -> None:
    w3 = stack.runtime.w3
    signer = Account.from_key(SIGNER_KEY).address
    buyer = Account.create().address
    with manual_mining(w3):
        head = w3.eth.block_number
        r = claim(stack, world, "P-0", buyer)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["state"] == "pending" and body["owner"] == buyer
        tx_hash = body["tx_hash"]
        # Answered while the chain has not mined it: no new block, no receipt.
        assert w3.eth.block_number == head
        assert node(w3, "eth_getTransactionReceipt", tx_hash) is None
        assert transaction(stack, tx_hash) | {"tx_hash": None} == {
            "tx_hash": None,
            "state": "pending",
            "block_number": None,
            "block_hash": None,
            "replaced_by": None,
            "reason": None,
            "code": None,
            "detail": None,
        }

        # Asking again for the same buyer follows the same transaction: nothing else is broadcast.
        sent = w3.eth.get_transaction_count(signer, "pending")
        again = claim(stack, world, "P-0", buyer)
        assert again.status_code == 202 and again.json()["tx_hash"] == tx_hash
        # Another recipient meanwhile is refused, pointing at the pending transaction.
        other = problem(claim(stack, world, "P-0", Account.create().address), 409, "transaction-pending")
        assert other["tx_hash"] == tx_hash
        assert w3.eth.get_transaction_count(signer, "pending") == sent
        assert owner_of(stack, world, "P-0") == signer  # still in the brand's custody

        node(w3, "evm_mine")
    block = w3.eth.get_block(head + 1)
    mined = transaction(stack, tx_hash)
    assert mined["state"] == "mined"
    assert mined["block_number"] == head + 1 and mined["block_hash"] == "0x" + bytes(block["hash"]).hex()
    assert owner_of(stack, world, "P-0") == buyer
    # Asked again once mined (the 202 was the last the buyer heard): the same transaction, now mined.
    replay = claim(stack, world, "P-0", buyer)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true", replay.text
    assert replay.json()["tx_hash"] == tx_hash and replay.json()["state"] == "mined"


def test_a_signed_transfer_is_answered_pending_and_the_owner_changes_once_mined(
    stack: Stack, world: dict[str, Any]
) -> None:
    w3 = stack.runtime.w3
    owner: LocalAccount = Account.create()
    first = claim(stack, world, "P-1", owner.address)  # mined at once: Anvil mines every transaction
    assert first.status_code == 200 and first.json()["state"] == "mined", first.text
    buyer = Account.create().address
    with manual_mining(w3):
        r = signed_transfer(stack, world, "P-1", owner, buyer)
        assert r.status_code == 202, r.text
        assert r.json()["state"] == "pending" and r.json()["from"] == owner.address
        tx_hash = r.json()["tx_hash"]
        assert transaction(stack, tx_hash)["state"] == "pending"
        # Another relay about the twin would be simulated against the state before the transfer.
        base = f"/v1/twins/{world['collection']}/{world['tokens']['P-1']}/status"
        typed = stack.client.get(base + "/typed-data", params={"status": "lost"}).json()["typed_data"]
        m = typed["message"]
        report = {"status": "lost", "nonce": m["nonce"], "deadline": m["deadline"], "signature": sign(owner, typed)}
        problem(stack.client.post(base, json=report), 409, "transaction-pending")
        assert owner_of(stack, world, "P-1") == owner.address
        node(w3, "evm_mine")
    assert transaction(stack, tx_hash)["state"] == "mined"
    assert owner_of(stack, world, "P-1") == buyer


def test_a_pending_transfer_that_reverts_when_mined_is_reported_with_its_reason(
    stack: Stack, world: dict[str, Any]
) -> None:
    """The owner moves the twin directly while the relayed transfer waits: mined later, the relayed
    one reverts, and the service says why. In between, a block the relayed transaction cannot pay for
    evicts it from Anvil's pool; the service sends it again with no request waiting."""
    w3 = stack.runtime.w3
    owner: LocalAccount = Account.from_key(ANVIL_DEV_KEY)  # funded: it sends its own transaction
    assert claim(stack, world, "P-2", owner.address).status_code == 200
    token = world["tokens"]["P-2"]
    collection = stack.runtime.chain.collection(world["collection"])
    direct_to = Account.create().address
    with manual_mining(w3):
        r = signed_transfer(stack, world, "P-2", owner, Account.create().address)
        assert r.status_code == 202, r.text
        tx_hash = r.json()["tx_hash"]
        relayed = w3.eth.get_transaction(tx_hash)
        # The owner's own transfer goes into a block whose base fee the relayed transaction cannot pay.
        node(w3, "anvil_setNextBlockBaseFeePerGas", hex(relayed["maxFeePerGas"] * 5))
        direct = collection.functions.transferFrom(owner.address, direct_to, token).build_transaction(
            {
                "from": owner.address,
                "nonce": w3.eth.get_transaction_count(owner.address, "pending"),
                "gas": 200_000,
                "maxFeePerGas": relayed["maxFeePerGas"] * 20,
                "maxPriorityFeePerGas": 2 * GWEI,
                "chainId": w3.eth.chain_id,
            }
        )
        w3.eth.send_raw_transaction(owner.sign_transaction(direct).raw_transaction)
        node(w3, "evm_mine")
        assert collection.functions.ownerOf(token).call() == direct_to
        assert node(w3, "eth_getTransactionReceipt", tx_hash) is None
        assert transaction(stack, tx_hash)["state"] == "pending"  # still looked after
        node(w3, "anvil_setNextBlockBaseFeePerGas", hex(GWEI // 10))
        # Nobody waits on it: the runtime's loop finds it missing from the pool and sends it again.
        wait_for(lambda: node(w3, "eth_getTransactionByHash", stack.runtime.chain.sender.current_hash(tx_hash)))
        node(w3, "evm_mine")
    report = transaction(stack, tx_hash)
    if report["state"] == "replaced":  # sent again repriced rather than as it was: follow the new version
        report = transaction(stack, report["replaced_by"])
    assert report["state"] == "reverted", report
    assert report["block_number"] is not None and report["reason"] == "TwinmarkCollectionInvalidNonce"
    assert report["code"] == "stale-nonce" and report["detail"]
    assert collection.functions.ownerOf(token).call() == direct_to


def test_a_pending_content_update_changes_the_record_only_once_mined(stack: Stack, world: dict[str, Any]) -> None:
    w3 = stack.runtime.w3
    url = f"/v1/twins/{world['collection']}/{world['tokens']['P-3']}"
    before = stack.client.get(url).json()
    content = physical("P-3", code="590123412345") | {"name": "Sac Iconique P-3, relined"}
    with manual_mining(w3):
        r = stack.client.put(url + "/metadata", json=content, headers=world["brand"])
        assert r.status_code == 202, r.text
        assert r.json()["state"] == "pending" and r.json()["name"] == before["name"]
        tx_hash = r.json()["update_tx_hash"]
        assert stack.client.get(url).json()["metadata_cid"] == before["metadata_cid"]
        node(w3, "evm_mine")
    assert transaction(stack, tx_hash)["state"] == "mined"
    # The indexer (running in this stack) applies the content the chain now anchors.
    wait_for(lambda: stack.client.get(url).json()["name"] == content["name"])


def test_unknown_and_malformed_hashes(stack: Stack) -> None:
    r = stack.client.get("/v1/transactions/0x" + "ab" * 32)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/not-found")
    assert stack.client.get("/v1/transactions/0x1234").status_code == 422


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[Stack]:
    """A stack that replaces a transaction not mined within 2 s."""
    with fresh_stack(tmp_path, relay_wait_seconds=RELAY_WAIT, tx_stuck_seconds=2.0) as running:
        yield running


def test_a_pending_transaction_nobody_waits_for_is_replaced_and_followed(impatient: Stack) -> None:
    stack = impatient
    brand, collection = stack.new_brand("Stuck House", "STK")
    job = stack.wait_job(brand, stack.client.post("/v1/twins", json=physical("S-1"), headers=brand).json()["id"])
    token = job["twins"][0]["token_id"]
    w3 = stack.runtime.w3
    with manual_mining(w3):
        r = stack.client.post(f"/v1/twins/{collection}/{token}/status", json={"status": "stolen"}, headers=brand)
        assert r.status_code == 202 and r.json()["state"] == "pending", r.text
        tx_hash = r.json()["tx_hash"]
        nonce = w3.eth.get_transaction(tx_hash)["nonce"]
        # No request waits any more; the runtime's loop replaces it once stuck (same nonce, higher fees).
        wait_for(lambda: transaction(stack, tx_hash)["state"] == "replaced")
        replacement = transaction(stack, tx_hash)["replaced_by"]
        assert replacement != tx_hash
        assert w3.eth.get_transaction(replacement)["nonce"] == nonce
        node(w3, "evm_mine")
    landed = transaction(stack, tx_hash)
    assert landed["state"] == "replaced"
    mined = transaction(stack, landed["replaced_by"])
    assert mined["state"] == "mined" and mined["block_number"] is not None
    assert stack.client.get(f"/v1/twins/{collection}/{token}").json()["on_chain"]["status"] == "stolen"
