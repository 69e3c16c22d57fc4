"""EIP-6492: a player whose contract wallet is not deployed yet signs in with a wrapped signature; the
service's deploy-and-check eth_call (contracts/siwe/Erc6492Validator.sol) runs the factory inside the
call and asks the would-be wallet, and nothing is deployed on chain."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_account import Account

from registry.chain.artifacts import load_hardhat
from registry.siwe import erc6492_code
from registry.siwe.signatures import ERC6492_SUFFIX
from tests.api.conftest import Stack
from tests.siwe.conftest import message_for, new_nonce, personal_sign, problem

ROOT = Path(__file__).parents[2]
FACTORY = ROOT / "artifacts" / "contracts" / "test" / "TestWalletFactory.sol" / "TestWalletFactory.json"


def test_the_embedded_validator_code_is_the_compiled_contract() -> None:
    current = Path(erc6492_code.__file__).read_text()
    assert erc6492_code.render(ROOT / erc6492_code.ARTIFACT) == current


def _wrap(factory: str, calldata: bytes, signature: str) -> str:
    inner = bytes.fromhex(signature[2:])
    return "0x" + (encode(["address", "bytes", "bytes"], [factory, calldata, inner]) + ERC6492_SUFFIX).hex()


def test_counterfactual_wallet_signs_in_with_an_erc6492_signature(stack: Stack) -> None:
    chain = stack.runtime.chain
    art = load_hardhat(FACTORY)
    receipt = chain.sender.transact(chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor())
    factory = chain.w3.eth.contract(address=receipt["contractAddress"], abi=art.abi)
    owner, stranger = Account.create(), Account.create()
    salt = os.urandom(32)
    wallet = factory.functions.addressOf(owner.address, salt).call()
    assert chain.w3.eth.get_code(wallet) == b""
    deploy = bytes.fromhex(factory.functions.deploy(owner.address, salt)._encode_transaction_data()[2:])

    text = message_for(new_nonce(stack), wallet).text

    def post(signature: str) -> Any:
        return stack.client.post("/v1/siwe/verify", json={"message": text, "signature": signature})

    # Not the owner's key; a factory call that deploys someone else's wallet elsewhere; no wrapping.
    problem(post(_wrap(factory.address, deploy, personal_sign(stranger, text))), 401, "siwe-signature")
    other = bytes.fromhex(factory.functions.deploy(stranger.address, salt)._encode_transaction_data()[2:])
    problem(post(_wrap(factory.address, other, personal_sign(stranger, text))), 401, "siwe-signature")
    problem(post(personal_sign(owner, text)), 401, "siwe-signature")  # no code yet: ERC-1271 cannot answer
    r = post(_wrap(factory.address, deploy, personal_sign(owner, text)))
    assert r.status_code == 201, r.text
    assert r.json()["address"] == wallet and r.json()["signature_kind"] == "erc6492"
    assert chain.w3.eth.get_code(wallet) == b""  # checked inside eth_call: nothing was deployed

    # Once deployed, the same kind of wrapped signature still verifies (the validator asks the wallet).
    chain.sender.transact(factory.functions.deploy(owner.address, salt))
    later = message_for(new_nonce(stack), wallet).text
    wrapped = _wrap(factory.address, deploy, personal_sign(owner, later))
    r2 = stack.client.post("/v1/siwe/verify", json={"message": later, "signature": wrapped})
    assert r2.status_code == 201, r2.text
    assert r2.json()["signature_kind"] == "erc6492"
