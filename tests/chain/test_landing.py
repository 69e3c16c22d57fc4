"""Transactions that land, on a real Anvil: fees stay under the cap and nothing is broadcast above
it; a transaction stuck under a base-fee rise is replaced (same nonce, higher fees) and `wait`
answers with the replacement's receipt; a nonce gap left by another process is filled."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import TransactionNotFound

from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain
from registry.chain.deploy import deploy
from registry.chain.sender import GWEI, FeesAboveCap, TxSender
from tests.chain.test_sender import DECODER


@pytest.fixture
def w3() -> Iterator[Web3]:
    # Each test changes mining and fees: a node of its own.
    node = Anvil()
    node.start()
    try:
        yield Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))
    finally:
        node.stop()


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    answer = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer.get("result")


def setup(w3: Web3, **policy: Any) -> tuple[TxSender, TwinmarkChain]:
    account = Account.create()
    rpc(w3, "anvil_setBalance", account.address, hex(10**21))
    sender = TxSender(w3, account, DECODER, **policy)
    return sender, TwinmarkChain(w3, sender, deploy(w3, sender)["registry"])


def counts(w3: Web3, address: str) -> tuple[int, int]:
    """(pending, mined) nonces of `address` at the node."""
    return w3.eth.get_transaction_count(address, "pending"), w3.eth.get_transaction_count(address)  # type: ignore[arg-type]


def test_fees_stay_under_the_cap_and_nothing_is_sent_above_it(w3: Web3) -> None:
    sender, chain = setup(w3, max_fee=50 * GWEI)
    # 2 * 30 + tip would be 61 gwei: the offer stops at the cap.
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(30 * GWEI))
    receipt = sender.transact(chain.registry.functions.registerBrand(sender.address, "Capped"))
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["maxFeePerGas"] == 50 * GWEI and 0 < tx["maxPriorityFeePerGas"] <= 20 * GWEI

    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(80 * GWEI))
    before = counts(w3, sender.address)
    with pytest.raises(FeesAboveCap) as err:
        sender.send(chain.registry.functions.registerBrand(sender.address, "Too dear"))
    assert err.value.status == 503 and err.value.code == "fees-above-cap"
    assert "80 gwei, above the cap of 50 gwei" in err.value.detail
    assert counts(w3, sender.address) == before  # nothing broadcast, no nonce used

    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(GWEI))
    assert chain.register_brand(sender.address, "Later") == 2


def test_wait_follows_a_replacement_of_a_stuck_transaction(w3: Web3) -> None:
    sender, chain = setup(w3, stuck_seconds=1.5)
    rpc(w3, "evm_setAutomine", False)
    first = sender.send(chain.registry.functions.registerBrand(sender.address, "Stuck"))
    original = w3.eth.get_transaction(first)  # type: ignore[arg-type]
    # The base fee rises past what it offers before any block includes it: it stays in the pool, unminable.
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(original["maxFeePerGas"] * 5))
    waited: list[Any] = []
    waiter = threading.Thread(target=lambda: waited.append(sender.wait(first, timeout=30)))
    started = time.monotonic()
    waiter.start()
    while sender.current_hash(first) == first and time.monotonic() - started < 15:
        time.sleep(0.05)
    assert sender.current_hash(first) != first, "never replaced"
    assert time.monotonic() - started >= 1.0  # not before it was stuck
    rpc(w3, "evm_mine")
    waiter.join(timeout=15)
    assert waited, "wait did not return"
    receipt = waited[0]
    landed = "0x" + bytes(receipt["transactionHash"]).hex()
    assert landed == sender.current_hash(first) != first and receipt["status"] == 1
    replacement = w3.eth.get_transaction(landed)  # type: ignore[arg-type]
    assert replacement["nonce"] == original["nonce"]
    assert replacement["maxFeePerGas"] >= original["maxFeePerGas"] * 11 // 10
    assert replacement["maxFeePerGas"] > w3.eth.get_block(receipt["blockNumber"])["baseFeePerGas"]
    assert replacement["maxPriorityFeePerGas"] >= original["maxPriorityFeePerGas"] * 11 // 10
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(first)  # type: ignore[arg-type]
    assert sender.state(first).hash == landed and sender.state(first).receipt is not None


def test_a_nonce_gap_left_by_another_process_is_filled(w3: Web3) -> None:
    sender, chain = setup(w3, stuck_seconds=1.5)
    # Another process with the same key, which dies with its transaction dropped from the pool.
    other = TxSender(w3, sender.account, DECODER)
    rpc(w3, "evm_setAutomine", False)
    lost = other.send(chain.registry.functions.registerBrand(sender.address, "Lost"))
    gap = w3.eth.get_transaction(lost)["nonce"]  # type: ignore[arg-type]
    mine = sender.send(chain.registry.functions.registerBrand(sender.address, "Mine"))
    assert w3.eth.get_transaction(mine)["nonce"] == gap + 1  # type: ignore[arg-type]
    rpc(w3, "anvil_dropTransaction", lost)
    assert counts(w3, sender.address)[0] == gap  # the node now waits for a nonce only the dead process knew
    rpc(w3, "evm_setIntervalMining", 1)
    started = time.monotonic()
    receipt = sender.wait(mine, timeout=30)
    assert receipt["status"] == 1 and time.monotonic() - started < 10
    # The filler lands in the same block as `mine` or just before it (nodes differ in when they promote
    # a transaction queued behind the gap).
    recent = [
        h for n in (receipt["blockNumber"] - 1, receipt["blockNumber"]) for h in w3.eth.get_block(n)["transactions"]
    ]
    filler = next(t for t in map(w3.eth.get_transaction, recent) if t["nonce"] == gap)
    assert filler["nonce"] == gap and filler["to"] == sender.address and filler["value"] == 0
    assert counts(w3, sender.address) == (gap + 2, gap + 2)


def test_a_transaction_evicted_under_a_base_fee_rise_is_repriced_and_lands(w3: Web3) -> None:
    sender, chain = setup(w3)  # stuck_seconds stays 60: this one is dropped, not stuck
    rpc(w3, "evm_setAutomine", False)
    first = sender.send(chain.registry.functions.registerBrand(sender.address, "Evicted"))
    original = w3.eth.get_transaction(first)  # type: ignore[arg-type]
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(original["maxFeePerGas"] * 5))
    rpc(w3, "evm_mine")  # a block it cannot pay for: Anvil evicts it from the pool
    assert not sender.pending(first)
    rpc(w3, "evm_setIntervalMining", 1)
    started = time.monotonic()
    receipt = sender.wait(first, timeout=20)  # sending the same bytes again is refused: repriced
    assert receipt["status"] == 1 and time.monotonic() - started < 10
    repriced = w3.eth.get_transaction(receipt["transactionHash"])
    assert repriced["hash"] != original["hash"] and repriced["nonce"] == original["nonce"]
    assert repriced["maxFeePerGas"] > original["maxFeePerGas"]
