"""The transaction sender owns its signer's nonces: concurrent callers never collide or leave gaps;
a nonce taken by another process is recovered from; reverts arrive as named domain errors."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from registry.chain import artifacts
from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain
from registry.chain.deploy import deploy
from registry.chain.node import connect
from registry.chain.reverts import RevertDecoder
from registry.chain.sender import TxSender
from registry.errors import ConfigurationError, ContractReverted
from registry.runtime.keys import load_signer
from registry.settings import Settings

DECODER = RevertDecoder(artifacts.load(n).abi for n in ("TwinmarkRegistry", "TwinmarkCollection"))


def fresh_sender(w3: Web3) -> TxSender:
    account = Account.create()
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
    return TxSender(w3, account, DECODER)


def test_concurrent_sends_use_consecutive_nonces(w3: Web3) -> None:
    sender = fresh_sender(w3)
    addresses = deploy(w3, sender)
    chain = TwinmarkChain(w3, sender, addresses["registry"])
    start = w3.eth.get_transaction_count(sender.account.address)
    first_block = w3.eth.block_number + 1
    names = [f"Brand {i}" for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        brand_ids = list(pool.map(lambda n: chain.register_brand(sender.address, n), names))
    assert sorted(brand_ids) == list(range(1, 25))
    end = w3.eth.get_transaction_count(sender.account.address)
    assert end - start == 24  # no nonce skipped, none reused
    nonces = sorted(
        w3.eth.get_transaction(tx)["nonce"]
        for block in range(first_block, w3.eth.block_number + 1)
        for tx in w3.eth.get_block(block)["transactions"]
        if w3.eth.get_transaction(tx)["from"] == sender.address
    )
    assert nonces == list(range(start, end))
    tx = w3.eth.get_transaction(w3.eth.get_block("latest")["transactions"][0])
    assert tx["type"] == 2 and tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"]  # EIP-1559


def test_a_nonce_taken_elsewhere_is_recovered(w3: Web3) -> None:
    sender = fresh_sender(w3)
    addresses = deploy(w3, sender)
    chain = TwinmarkChain(w3, sender, addresses["registry"])
    # Another process with the same key sends two transactions behind this sender's back.
    twin_process = TxSender(w3, sender.account, DECODER)
    twin_chain = TwinmarkChain(w3, twin_process, addresses["registry"])
    twin_chain.register_brand(sender.address, "Elsewhere 1")
    twin_chain.register_brand(sender.address, "Elsewhere 2")
    assert chain.register_brand(sender.address, "Here") == 3


def test_failed_estimates_do_not_burn_nonces_and_reverts_are_named(w3: Web3) -> None:
    sender = fresh_sender(w3)
    addresses = deploy(w3, sender)
    outsider = fresh_sender(w3)
    chain = TwinmarkChain(w3, outsider, addresses["registry"])
    before = w3.eth.get_transaction_count(outsider.account.address)
    with pytest.raises(ContractReverted) as err:
        chain.register_brand(outsider.address, "Not the operator")
    assert err.value.name == "OwnableUnauthorizedAccount"
    assert err.value.error_args == (outsider.address,)
    assert w3.eth.get_transaction_count(outsider.account.address) == before
    # A transaction mined despite reverting (explicit gas, no estimate) is decoded too.
    fn = chain.registry.functions.registerBrand(outsider.address, "x")
    with pytest.raises(ContractReverted, match="OwnableUnauthorizedAccount"):
        outsider.transact(fn, gas=200_000)
    assert w3.eth.get_transaction_count(outsider.account.address) == before + 1


def test_signer_from_an_encrypted_keystore(tmp_path: Path) -> None:
    account = Account.create()
    keystore = tmp_path / "key.json"
    # scrypt at 1/16 of eth-account's default work (0.05 s instead of 0.8 s per try): this is about
    # loading a keystore, not about stretching its password.
    keystore.write_text(json.dumps(Account.encrypt(account.key, "correct horse", iterations=2**14)))
    settings = Settings(data_dir=tmp_path, signer_keystore=keystore, signer_password="correct horse")  # type: ignore[arg-type]
    assert load_signer(settings, embedded=False).address == account.address
    with pytest.raises(ConfigurationError, match=r"unusable keystore .*ValueError") as refused:
        load_signer(Settings(data_dir=tmp_path, signer_keystore=keystore, signer_password="wrong"), embedded=False)  # type: ignore[arg-type]
    assert "wrong" not in str(refused.value.detail)  # a configuration error, naming neither key nor password
    with pytest.raises(ConfigurationError):
        load_signer(Settings(data_dir=tmp_path), embedded=False)


def test_bytes_the_node_already_holds_are_a_success(w3: Web3) -> None:
    """The first broadcast reached the node but its answer was lost, and the retry of the same signed
    bytes meets the node's "already holds it" (Anvil: "transaction already imported", not geth's
    "already known"): the send succeeded, it is not an error, and the nonce moves on. Found by the
    chaos soak: under lost answers the mint worker's step failed and relayed claims answered 500."""
    sender = fresh_sender(w3)
    addresses = deploy(w3, sender)
    chain = TwinmarkChain(w3, sender, addresses["registry"])
    fn = chain.registry.functions.registerBrand(sender.address, "Lost answer")
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        nonce = w3.eth.get_transaction_count(sender.account.address, "pending")
        gas = 300_000
        tx = fn.build_transaction(
            {"from": sender.address, "nonce": nonce, "gas": gas, "chainId": w3.eth.chain_id, **sender.fees()}
        )
        first = sender.account.sign_transaction(tx)
        w3.eth.send_raw_transaction(first.raw_transaction)  # the attempt whose answer never came back
        assert sender.send(fn, gas=gas) == "0x" + bytes(first.hash).hex()
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert w3.eth.get_transaction_receipt(first.hash)["status"] == 1
    assert w3.eth.get_transaction_count(sender.account.address) == nonce + 1
    assert chain.register_brand(sender.address, "After") == 2  # the next send takes the next nonce


class MinedThenLost:
    """A JSON-RPC proxy that forwards everything to the node, except that the first broadcast it sees is
    forwarded, mined at once, and its answer lost (connection closed): the client's retry of the same
    bytes then finds the nonce used, by its own transaction."""

    def __init__(self, upstream: str) -> None:
        self.lost = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = httpx.post(upstream, content=body, headers={"content-type": "application/json"})
                if b"eth_sendRawTransaction" in body and not proxy.lost:
                    proxy.lost += 1
                    httpx.post(upstream, json={"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []})
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_broadcast_mined_before_its_retry_is_not_sent_again(w3: Web3, anvil: Anvil) -> None:
    """The broadcast reached the node, was mined, and its answer was lost; the provider's retry of the
    same bytes meets "nonce too low". The call happened once: the sender must not re-sign it under the
    next nonce (it would happen twice, or revert at the service's cost and be answered as refused).
    Found by the chaos soak: an owner's status report answered 409 although it was on chain."""
    sender = fresh_sender(w3)
    addresses = deploy(w3, sender)
    proxy = MinedThenLost(anvil.url)
    try:
        via_proxy = TxSender(connect(proxy.url), sender.account, DECODER)
        chain = TwinmarkChain(via_proxy.w3, via_proxy, addresses["registry"])
        start = w3.eth.get_transaction_count(sender.account.address)
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        try:
            tx_hash = via_proxy.send(chain.registry.functions.registerBrand(sender.address, "Once"), gas=300_000)
        finally:
            w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        assert proxy.lost == 1
        assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1  # type: ignore[arg-type]
        assert w3.eth.get_transaction_count(sender.account.address) == start + 1  # sent once
        registry = w3.eth.contract(address=addresses["registry"], abi=artifacts.load("TwinmarkRegistry").abi)
        assert registry.functions.brandCount().call() == 1
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
