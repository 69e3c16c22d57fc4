"""The passkey owner account (contracts/owners/) on a real Anvil, once under Prague (P-256 verified in
Solidity) and once under Osaka (the EIP-7951 precompile at 0x100), with WebAuthn assertions signed in
Python by a P-256 key the way an authenticator signs them.

Anvil runs without auto-impersonation here: a transaction can come only from the node's unlocked
development accounts (the operator, brand admins, minters), never from the account itself."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from registry.chain import passkeys, typed_data
from registry.chain.anvil import Anvil
from registry.errors import ContractReverted
from tests.contracts import passkeys as passkeys_helpers
from tests.contracts.chain import Chain, Deployment, claim_args, deploy_twinmark, mint, mint_claimable
from tests.contracts.passkeys import (
    Passkey,
    account_at,
    create_account,
    deploy_factory,
    erc1271_signature,
    execute_args,
    install_decoder,
)

MAGIC = bytes.fromhex("1626ba7e")
REFUSED = bytes.fromhex("ffffffff")
DEV_MNEMONIC = "test test test test test test test test test test test junk"
# OpenZeppelin's P256.sol probe (Wycheproof): a valid signature with r = 5, s = 1.
P256_PROBE = bytes.fromhex(
    "bb5a52f42f9c9261ed4361f59422a1e30036e7c32b270c8807a419feca605023"
    "0000000000000000000000000000000000000000000000000000000000000005"
    "0000000000000000000000000000000000000000000000000000000000000001"
    "a71af64de5126a4a4e02b7922d66ce9415ce88a4c9d25514d91082c8725ac957"
    "5d47723c8fbe580bb369fec9c2665d8e30a435b9932645482e7c9f11e872296b"
)


@dataclass
class World:
    hardfork: str
    d: Deployment
    factory: Contract
    verifier: str
    dev_keys: dict[str, LocalAccount]

    @property
    def chain(self) -> Chain:
        return self.d.chain

    @property
    def w3(self) -> Web3:
        return self.d.chain.w3


@pytest.fixture(scope="module", params=["prague", "osaka"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    with Anvil(hardfork=request.param) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        chain = Chain(w3)
        install_decoder(chain)
        d = deploy_twinmark(chain, list(w3.eth.accounts))
        factory = deploy_factory(chain, d.operator)
        Account.enable_unaudited_hdwallet_features()
        keys = [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(6)]
        by_address = {k.address: k for k in keys}
        assert set(by_address) == set(w3.eth.accounts[:6])
        yield World(request.param, d, factory, factory.functions.verifier().call(), by_address)


@pytest.fixture
def w(world: World) -> Iterator[World]:
    snapshot = world.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield world
    world.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


def refused(name: str) -> Any:
    return pytest.raises(ContractReverted, match=f"^{name}")


def owned_by_new_account(w: World, key: Passkey | None = None) -> tuple[Passkey, Contract, int]:
    key = key or Passkey()
    account = create_account(w.chain, w.factory, key, w.d.operator)
    token, _ = mint(w.d, 1, custodian=account.address)
    return key, account, token


def transfer_call(w: World, account: Contract, to: str, token: int) -> tuple[str, int, bytes]:
    data = w.d.col_a.functions.transferFrom(account.address, to, token)._encode_transaction_data()
    return (w.d.col_a.address, 0, bytes.fromhex(data.removeprefix("0x")))


def self_call(account: Contract, fn: str, *args: Any) -> tuple[str, int, bytes]:
    data = getattr(account.functions, fn)(*args)._encode_transaction_data()
    return (account.address, 0, bytes.fromhex(data.removeprefix("0x")))


def transfer_digest(w: World, to: str, token: int, nonce: int, deadline: int) -> bytes:
    return passkeys_helpers.transfer_digest(w.chain, w.d.col_a.address, to, token, nonce, deadline)


def test_the_p256_precompile_is_there_under_osaka_only(w: World) -> None:
    out = w.w3.eth.call({"to": Web3.to_checksum_address("0x" + "00" * 18 + "0100"), "data": P256_PROBE})
    assert out == ((1).to_bytes(32, "big") if w.hardfork == "osaka" else b"")


def test_the_address_is_known_before_deployment_and_creation_is_idempotent(w: World) -> None:
    key = Passkey()
    predicted = w.factory.functions.predict(key.qx, key.qy).call()
    implementation = w.factory.functions.implementation().call()
    assert predicted == passkeys.predict_account(w.factory.address, implementation, key.qx, key.qy)
    assert w.w3.eth.get_code(predicted) == b""

    receipt = w.chain.send(w.factory.functions.createAccount(key.qx, key.qy), w.d.operator)
    [event] = w.chain.events(w.factory, "AccountCreated", receipt)
    assert (event["account"], event["qx"], event["qy"]) == (predicted, key.qx, key.qy)
    again = w.chain.send(w.factory.functions.createAccount(key.qx, key.qy), w.d.operator)
    assert w.chain.events(w.factory, "AccountCreated", again) == []
    assert w.factory.functions.createAccount(key.qx, key.qy).call() == predicted

    account = account_at(w.chain, predicted)
    assert account.functions.isSigner(key.signer(w.verifier)).call()
    assert account.functions.getSignerCount().call() == 1
    assert account.functions.threshold().call() == 1
    assert account.functions.factory().call() == w.factory.address


def test_only_the_factory_initializes_and_only_once(w: World) -> None:
    _, account, _ = owned_by_new_account(w)
    intruder = Passkey()
    with refused("InvalidInitialization"):
        w.chain.send(account.functions.initialize(intruder.qx, intruder.qy), w.d.operator)
    implementation = account_at(w.chain, w.factory.functions.implementation().call())
    with refused("InvalidInitialization"):
        w.chain.send(implementation.functions.initialize(intruder.qx, intruder.qy), w.d.operator)
    # A clone of the implementation deployed by someone else (raw ERC-1167 creation code) cannot be
    # initialized by them either.
    code = passkeys.clone_init_code(implementation.address)
    tx = w.w3.eth.send_transaction({"from": w.d.operator, "data": code})
    stray = account_at(w.chain, str(w.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]))
    with refused("TwinmarkPasskeyAccountUnauthorizedInitializer"):
        w.chain.send(stray.functions.initialize(intruder.qx, intruder.qy), w.d.operator)
    # A key off the curve gets no account.
    with refused("TwinmarkPasskeyAccountInvalidKey"):
        w.chain.send(w.factory.functions.createAccount(b"\x00" * 31 + b"\x01", b"\x00" * 31 + b"\x01"), w.d.operator)


def test_nobody_takes_the_address_with_another_key(w: World) -> None:
    key, squatter = Passkey(), Passkey()
    address = w.factory.functions.predict(key.qx, key.qy).call()
    w.chain.send(w.factory.functions.createAccount(squatter.qx, squatter.qy), w.d.operator)
    assert w.factory.functions.predict(squatter.qx, squatter.qy).call() != address
    assert w.w3.eth.get_code(address) == b""
    account = create_account(w.chain, w.factory, key, w.d.operator)
    assert account.address == address
    assert not account.functions.isSigner(squatter.signer(w.verifier)).call()
    digest = os.urandom(32)
    assert (
        account.functions.isValidSignature(digest, erc1271_signature(w.chain, address, w.verifier, key, digest)).call()
        == MAGIC
    )
    # The squatter's assertion, presented under its own signer or under the owner's, is refused.
    theirs = erc1271_signature(w.chain, address, w.verifier, squatter, digest)
    assert account.functions.isValidSignature(digest, theirs).call() == REFUSED
    wrapped = passkeys.personal_sign_wrap(digest, w.chain.chain_id, address)
    forged = passkeys.multisig([key.signer(w.verifier)], [squatter.assertion(wrapped)])
    assert account.functions.isValidSignature(digest, forged).call() == REFUSED


def test_the_collection_takes_a_passkey_signed_transfer_by_sig_where_p256_is_native(w: World) -> None:
    key, account, token = owned_by_new_account(w)
    to = w.chain.new_account().address
    deadline = w.chain.now() + 3600
    digest = transfer_digest(w, to, token, 0, deadline)
    signature = erc1271_signature(w.chain, account.address, w.verifier, key, digest)
    # The account itself accepts the signature on both hardforks (no gas limit on an eth_call) ...
    assert account.functions.isValidSignature(digest, signature).call() == MAGIC
    relay = w.d.col_a.functions.transferBySig(to, token, 0, deadline, signature)
    if w.hardfork == "osaka":
        w.chain.send(relay, w.d.operator)
        assert w.d.col_a.functions.ownerOf(token).call() == to
    else:
        # ... but P-256 in Solidity needs more than the collection's 100,000-gas ERC-1271 stipend.
        with refused("TwinmarkCollectionInvalidSignature"):
            w.chain.send(relay, w.d.operator)
        assert w.d.col_a.functions.ownerOf(token).call() == account.address


def test_a_wallet_sends_a_twin_to_the_account_by_signature(w: World) -> None:
    _, account, _ = owned_by_new_account(w)
    seller = w.chain.new_account()
    token, _ = mint(w.d, 1, custodian=seller.address)
    deadline = w.chain.now() + 3600
    payload = typed_data.typed_data(
        "TransferTwin",
        w.chain.chain_id,
        w.d.col_a.address,
        {"to": account.address, "tokenId": token, "nonce": 0, "deadline": deadline},
    )
    sig = typed_data.sign(seller, payload)
    # The collection's receiver check runs the account's onERC721Received (ERC721Holder).
    w.chain.send(w.d.col_a.functions.transferBySig(account.address, token, 0, deadline, sig), w.d.operator)
    assert w.d.col_a.functions.ownerOf(token).call() == account.address


def test_execute_by_sig_moves_a_twin_claimed_to_the_counterfactual_address(w: World) -> None:
    key = Passkey()
    address = w.factory.functions.predict(key.qx, key.qy).call()
    batch = mint_claimable(w.d, 1)
    w.chain.send(w.d.col_a.functions.claim(*claim_args(w.d, w.d.col_a, batch, batch.first, address)), w.d.operator)
    assert w.d.col_a.functions.ownerOf(batch.first).call() == address

    account = create_account(w.chain, w.factory, key, w.d.operator)
    to = w.chain.new_account().address
    args = execute_args(w.chain, account, w.verifier, key, [transfer_call(w, account, to, batch.first)])
    receipt = w.chain.send(account.functions.executeBySig(*args), w.d.operator)
    assert [e["nonce"] for e in w.chain.events(account, "ExecutedBySig", receipt)] == [0]
    assert w.d.col_a.functions.ownerOf(batch.first).call() == to
    assert account.functions.nonces(account.address).call() == 1
    with refused("InvalidAccountNonce"):  # the same signed batch, relayed again
        w.chain.send(account.functions.executeBySig(*args), w.d.operator)


def test_client_data_in_another_member_order_is_accepted(w: World) -> None:
    """Indices are found in the raw client data, so member order and extra members do not matter."""
    key, account, token = owned_by_new_account(w)
    to = w.chain.new_account().address
    calls = [transfer_call(w, account, to, token)]
    args = execute_args(w.chain, account, w.verifier, key, calls, reordered=True)
    w.chain.send(account.functions.executeBySig(*args), w.d.operator)
    assert w.d.col_a.functions.ownerOf(token).call() == to


# Each case: how the signed executeBySig is spoiled, and the error it must end in.
SPOILED: dict[str, tuple[dict[str, Any], str]] = {
    "a key that is not a signer": ({"key": "stranger"}, "TwinmarkPasskeyAccountInvalidSignature"),
    "another key under the owner's signer": ({"key": "forger"}, "TwinmarkPasskeyAccountInvalidSignature"),
    "the relayer swaps the batch": ({"key": "swap"}, "TwinmarkPasskeyAccountInvalidSignature"),
    "user not verified (UV=0)": ({"flags": passkeys.FLAG_UP}, "TwinmarkPasskeyAccountInvalidSignature"),
    "user not present (UP=0)": ({"flags": passkeys.FLAG_UV}, "TwinmarkPasskeyAccountInvalidSignature"),
    "backed up but not eligible": (
        {"flags": passkeys.FLAG_UP | passkeys.FLAG_UV | passkeys.FLAG_BS},
        "TwinmarkPasskeyAccountInvalidSignature",
    ),
    "a registration's client data": ({"kind": "webauthn.create"}, "TwinmarkPasskeyAccountInvalidSignature"),
    "another challenge in the client data": (
        {"signed_challenge": b"\x01" * 32},
        "TwinmarkPasskeyAccountInvalidSignature",
    ),
    # '{"type":"webauthn.get",' is 23 bytes: the challenge member starts at 23, not 24.
    "challenge index off by one": ({"challenge_index": 24}, "TwinmarkPasskeyAccountInvalidSignature"),
    "high s": ({"high_s": True}, "TwinmarkPasskeyAccountInvalidSignature"),
    "another chain id": ({"chain_id": 1}, "TwinmarkPasskeyAccountInvalidSignature"),
    "another account": ({"signed_for": "0x" + "11" * 20}, "TwinmarkPasskeyAccountInvalidSignature"),
    "expired deadline": ({"deadline": -1}, "TwinmarkPasskeyAccountExpiredSignature"),
    "a nonce not yet reached": ({"nonce": 1}, "InvalidAccountNonce"),
}


@pytest.mark.parametrize("case", list(SPOILED))
def test_spoiled_execute_by_sig_is_refused(w: World, case: str) -> None:
    key, account, token = owned_by_new_account(w)
    to = w.chain.new_account().address
    calls = [transfer_call(w, account, to, token)]
    overrides, error = SPOILED[case]
    overrides = dict(overrides)
    if overrides.get("deadline") == -1:
        overrides["deadline"] = w.chain.now() - 1
    special = overrides.pop("key", None)
    signing_key = Passkey() if special == "stranger" else key
    args = execute_args(w.chain, account, w.verifier, signing_key, calls, **overrides)
    mode, data, nonce, deadline, signature = args
    if special == "forger":
        digest = passkeys.execute_digest(w.chain.chain_id, account.address, mode, data, nonce, deadline)
        args = (mode, data, nonce, deadline, passkeys.multisig([key.signer(w.verifier)], [Passkey().assertion(digest)]))
    elif special == "swap":  # the owner's genuine signature, relayed with the twin sent elsewhere
        thief = w.chain.new_account().address
        args = (mode, passkeys.batch([transfer_call(w, account, thief, token)]), nonce, deadline, signature)
    with refused(error):
        w.chain.send(account.functions.executeBySig(*args), w.d.operator)
    assert w.d.col_a.functions.ownerOf(token).call() == account.address
    # The same batch, signed properly, goes through: the refusal was the spoiling's doing.
    w.chain.send(account.functions.executeBySig(*execute_args(w.chain, account, w.verifier, key, calls)), w.d.operator)
    assert w.d.col_a.functions.ownerOf(token).call() == to


def test_the_owner_reports_a_twin_stolen_with_the_passkey(w: World) -> None:
    key, account, token = owned_by_new_account(w)
    stolen = 2
    # Where P-256 is native, through the collection's own signed report (ERC-1271 within the stipend).
    if w.hardfork == "osaka":
        nonce, deadline = w.d.col_a.functions.twin(token).call()[6], w.chain.now() + 600
        payload = typed_data.typed_data(
            "ReportStatus",
            w.chain.chain_id,
            w.d.col_a.address,
            {"tokenId": token, "status": stolen, "nonce": nonce, "deadline": deadline},
        )
        signature = erc1271_signature(w.chain, account.address, w.verifier, key, passkeys_helpers.typed_digest(payload))
        w.chain.send(w.d.col_a.functions.reportStatusBySig(token, stolen, nonce, deadline, signature), w.d.operator)
    else:  # Everywhere, through the account calling reportStatus itself.
        data = w.d.col_a.functions.reportStatus(token, stolen)._encode_transaction_data()
        calls = [(w.d.col_a.address, 0, bytes.fromhex(data.removeprefix("0x")))]
        w.chain.send(
            account.functions.executeBySig(*execute_args(w.chain, account, w.verifier, key, calls)), w.d.operator
        )
    assert w.d.col_a.functions.twin(token).call()[3] == stolen


def test_a_signature_for_one_account_is_refused_by_another_sharing_the_passkey(w: World) -> None:
    shared, own = Passkey(), Passkey()
    first = create_account(w.chain, w.factory, shared, w.d.operator)
    second = create_account(w.chain, w.factory, own, w.d.operator)
    add = [self_call(second, "addSigners", [shared.signer(w.verifier)])]
    w.chain.send(second.functions.executeBySig(*execute_args(w.chain, second, w.verifier, own, add)), w.d.operator)
    assert second.functions.isSigner(shared.signer(w.verifier)).call()
    token, _ = mint(w.d, 1, custodian=second.address)

    # ERC-1271: the TransferTwin digest carries no `from`; the ERC-7739 wrap binds the signature to
    # the account it was made for.
    to = w.chain.new_account().address
    deadline = w.chain.now() + 3600
    digest = transfer_digest(w, to, token, 0, deadline)
    for_first = erc1271_signature(w.chain, first.address, w.verifier, shared, digest)
    assert first.functions.isValidSignature(digest, for_first).call() == MAGIC
    assert second.functions.isValidSignature(digest, for_first).call() == REFUSED
    with refused("TwinmarkCollectionInvalidSignature"):
        w.chain.send(w.d.col_a.functions.transferBySig(to, token, 0, deadline, for_first), w.d.operator)
    # executeBySig: the Execute domain names the account.
    calls = [transfer_call(w, second, to, token)]
    nonce = second.functions.nonces(second.address).call()
    args = execute_args(w.chain, second, w.verifier, shared, calls, nonce=nonce, signed_for=first.address)
    with refused("TwinmarkPasskeyAccountInvalidSignature"):
        w.chain.send(second.functions.executeBySig(*args), w.d.operator)
    assert w.d.col_a.functions.ownerOf(token).call() == second.address
    # Signed for the second account, the shared passkey acts there.
    w.chain.send(second.functions.executeBySig(*execute_args(w.chain, second, w.verifier, shared, calls)), w.d.operator)
    assert w.d.col_a.functions.ownerOf(token).call() == to


def test_signers_are_added_and_removed_but_never_the_last(w: World) -> None:
    first, second = Passkey(), Passkey()
    account = create_account(w.chain, w.factory, first, w.d.operator)

    def run(key: Passkey, *calls: tuple[str, int, bytes]) -> None:
        w.chain.send(
            account.functions.executeBySig(*execute_args(w.chain, account, w.verifier, key, list(calls))), w.d.operator
        )

    run(first, self_call(account, "addSigners", [second.signer(w.verifier)]))
    run(second, self_call(account, "removeSigners", [first.signer(w.verifier)]))
    assert account.functions.getSignerCount().call() == 1
    with refused("TwinmarkPasskeyAccountInvalidSignature"):  # the removed passkey no longer acts
        run(first, self_call(account, "addSigners", [first.signer(w.verifier)]))
    with refused("MultiSignerERC7913UnreachableThreshold"):
        run(second, self_call(account, "removeSigners", [second.signer(w.verifier)]))
    assert account.functions.isSigner(second.signer(w.verifier)).call()

    # Signers are passkeys of this verifier with a key on the curve, or non-zero addresses.
    off_curve = passkeys.passkey_signer(w.verifier, b"\x00" * 31 + b"\x01", b"\x00" * 31 + b"\x01")
    other_verifier = passkeys.passkey_signer(w.d.operator, second.qx, second.qy)
    for bad in (off_curve, other_verifier, b"\x00" * 20, b"\x01" * 40):
        with refused("TwinmarkPasskeyAccountInvalidSigner"):
            run(second, self_call(account, "addSigners", [bad]))

    # The exit to a wallet: an address signer then acts with a plain ECDSA signature.
    wallet = w.chain.new_account()
    run(second, self_call(account, "addSigners", [bytes.fromhex(wallet.address[2:])]))
    token, _ = mint(w.d, 1, custodian=account.address)
    to = w.chain.new_account().address
    data = passkeys.batch([transfer_call(w, account, to, token)])
    nonce, deadline = account.functions.nonces(account.address).call(), w.chain.now() + 600
    digest = passkeys.execute_digest(w.chain.chain_id, account.address, passkeys.BATCH_MODE, data, nonce, deadline)
    ecdsa = bytes(Account.unsafe_sign_hash(digest, wallet.key).signature)
    signature = passkeys.multisig([bytes.fromhex(wallet.address[2:])], [ecdsa])
    w.chain.send(account.functions.executeBySig(passkeys.BATCH_MODE, data, nonce, deadline, signature), w.d.operator)
    assert w.d.col_a.functions.ownerOf(token).call() == to


def test_the_operators_keys_cannot_move_a_twin_the_account_holds(w: World) -> None:
    """The service's signer (the operator's relay key), the brand's admin and its minter hold no power
    over a passkey account: not as ERC-721 operators, not as ECDSA signers for it, not as its signers."""
    key, account, token = owned_by_new_account(w)
    insiders = (w.d.operator, w.d.admin_a, w.d.minter_a)
    deadline = w.chain.now() + 3600
    for insider in insiders:
        insider_key = w.dev_keys[insider]
        with pytest.raises(ContractReverted):
            w.chain.send(w.d.col_a.functions.transferFrom(account.address, insider, token), insider)
        # Their ECDSA signature of the owner's TransferTwin, raw and in the account's envelope.
        digest = transfer_digest(w, insider, token, 0, deadline)
        raw = bytes(Account.unsafe_sign_hash(digest, insider_key.key).signature)
        wrapped = passkeys.personal_sign_wrap(digest, w.chain.chain_id, account.address)
        enveloped = passkeys.multisig(
            [bytes.fromhex(insider[2:])], [bytes(Account.unsafe_sign_hash(wrapped, insider_key.key).signature)]
        )
        for signature in (raw, enveloped):
            with refused("TwinmarkCollectionInvalidSignature"):
                w.chain.send(w.d.col_a.functions.transferBySig(insider, token, 0, deadline, signature), insider)
        # An Execute batch they sign, and the account's own entry points called directly.
        calls = [transfer_call(w, account, insider, token)]
        data = passkeys.batch(calls)
        nonce = account.functions.nonces(account.address).call()
        digest = passkeys.execute_digest(w.chain.chain_id, account.address, passkeys.BATCH_MODE, data, nonce, deadline)
        ecdsa = bytes(Account.unsafe_sign_hash(digest, insider_key.key).signature)
        for signature in (ecdsa, passkeys.multisig([bytes.fromhex(insider[2:])], [ecdsa])):
            with refused("TwinmarkPasskeyAccountInvalidSignature"):
                w.chain.send(
                    account.functions.executeBySig(passkeys.BATCH_MODE, data, nonce, deadline, signature), insider
                )
        with refused("AccountUnauthorized"):
            w.chain.send(account.functions.execute(passkeys.BATCH_MODE, data), insider)
        with refused("AccountUnauthorized"):
            w.chain.send(account.functions.addSigners([bytes.fromhex(insider[2:])]), insider)
        with refused("AccountUnauthorized"):
            w.chain.send(account.functions.removeSigners([key.signer(w.verifier)]), insider)
    assert w.d.col_a.functions.ownerOf(token).call() == account.address
    assert account.functions.getSignerCount().call() == 1
