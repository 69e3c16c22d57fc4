"""The game's door with a passkey: a player whose owner account is a passkey account
(contracts/owners/) signs in through the existing `/v1/siwe/verify`, before the account is deployed
(EIP-6492, the factory's `createAccount` run inside the service's eth_call) and after (ERC-1271). The
passkey signs the ERC-7739 wrap of the message's EIP-191 hash under the account's domain, as for any
ERC-1271 check of the account. The stack's Anvil runs Prague: no P-256 precompile, so the check runs
OpenZeppelin's Solidity fallback within the SIWE eth_call gas cap."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode

from registry.chain import passkeys
from registry.chain.client import TwinmarkChain
from registry.siwe import erc6492_code
from registry.siwe.signatures import message_hash
from tests.api.conftest import Stack
from tests.siwe.conftest import message_for, new_nonce, problem
from tests.support.webauthn import Passkey

STACK_SETTINGS = {"siwe_failures_per_minute": 1_000}


def passkey_signature(chain: TwinmarkChain, account: str, key: Passkey, text: str, **kw: Any) -> bytes:
    """The account's ERC-1271 signature of a SIWE message, made by the passkey `key`."""
    wrapped = passkeys.personal_sign_wrap(message_hash(text), chain.chain_id, account)
    signer = passkeys.passkey_signer(chain.owner_contracts.verifier, key.qx, key.qy)
    return passkeys.multisig([signer], [key.assertion(wrapped, **kw)])


def verify(stack: Stack, text: str, signature: bytes) -> Any:
    return stack.client.post("/v1/siwe/verify", json={"message": text, "signature": "0x" + signature.hex()})


def test_an_undeployed_passkey_account_signs_in_with_an_erc6492_signature(stack: Stack) -> None:
    chain = stack.runtime.chain
    assert not chain.p256_native  # the Solidity fallback is what the gas cap must cover
    factory = chain.owner_contracts.factory
    key, stranger = Passkey(), Passkey()
    account = chain.passkey_account(key.qx, key.qy)
    text = message_for(new_nonce(stack), account).text

    def wrapped(signature: bytes) -> bytes:
        return passkeys.erc6492_signature(factory, key.qx, key.qy, signature)

    # Refused: a stranger's assertion under the owner's signer; the owner's assertion over another
    # message; the stranger's own account deployed in place of the owner's; no EIP-6492 wrap at all
    # (no code to ask); user verification skipped.
    forged = passkeys.multisig(
        [passkeys.passkey_signer(chain.owner_contracts.verifier, key.qx, key.qy)],
        [stranger.assertion(passkeys.personal_sign_wrap(message_hash(text), chain.chain_id, account))],
    )
    other_text = message_for(new_nonce(stack), account).text
    theirs = passkeys.erc6492_signature(
        factory, stranger.qx, stranger.qy, passkey_signature(chain, account, stranger, text)
    )
    for refused in (
        wrapped(forged),
        wrapped(passkey_signature(chain, account, key, other_text)),
        theirs,
        passkey_signature(chain, account, key, text),
        wrapped(passkey_signature(chain, account, key, text, flags=passkeys.FLAG_UP)),
    ):
        problem(verify(stack, text, refused), 401, "siwe-signature")

    text = message_for(new_nonce(stack), account).text  # five refusals burnt the first nonce
    signature = wrapped(passkey_signature(chain, account, key, text))
    # The deploy-and-check eth_call fits the cap with room: the account's deployment plus P-256 in
    # Solidity (about 320k gas measured, of the 1M default).
    args = encode(["address", "bytes32", "bytes"], [account, message_hash(text), signature])
    gas = chain.w3.eth.estimate_gas({"data": "0x" + (erc6492_code.VALIDATOR_CREATION_CODE + args).hex()})
    assert gas < stack.runtime.settings.siwe_call_gas * 0.8, gas

    r = verify(stack, text, signature)
    assert r.status_code == 201, r.text
    assert r.json()["address"] == account and r.json()["signature_kind"] == "erc6492"
    assert not chain.account_deployed(account)  # checked inside eth_call: nothing was deployed
    me = stack.client.get("/v1/siwe/session", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.status_code == 200 and me.json()["address"] == account


def test_a_deployed_passkey_account_signs_in_with_erc1271(stack: Stack) -> None:
    chain = stack.runtime.chain
    key, stranger = Passkey(), Passkey()
    account = chain.passkey_account(key.qx, key.qy)
    factory = chain._contract(chain.owner_contracts.factory, "TwinmarkAccountFactory")
    chain.sender.transact(factory.functions.createAccount(key.qx, key.qy))
    assert chain.account_deployed(account)

    text = message_for(new_nonce(stack), account).text
    problem(verify(stack, text, passkey_signature(chain, account, stranger, text)), 401, "siwe-signature")
    # A signature made for another account the passkey signs for (ERC-7739 binds it to one account).
    elsewhere = chain.passkey_account(stranger.qx, stranger.qy)
    wrapped = passkeys.personal_sign_wrap(message_hash(text), chain.chain_id, elsewhere)
    signer = passkeys.passkey_signer(chain.owner_contracts.verifier, key.qx, key.qy)
    problem(verify(stack, text, passkeys.multisig([signer], [key.assertion(wrapped)])), 401, "siwe-signature")

    r = verify(stack, text, passkey_signature(chain, account, key, text))
    assert r.status_code == 201, r.text
    assert r.json()["address"] == account and r.json()["signature_kind"] == "erc1271"
