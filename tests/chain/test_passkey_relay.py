"""Passkey owner accounts through the service's chain client (`TwinmarkChain`, registry/chain/owner_accounts.py)
on a real Anvil, once under Prague (P-256 in Solidity: the "execute" path) and once under Osaka (the
EIP-7951 precompile: the collection's ERC-1271 path), with WebAuthn assertions signed in Python by a
software passkey. The owner contracts are deployed by `ensure_deployed` through the CREATE2 deployer,
as at the service's start."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint, TxReceipt

from registry.chain import artifacts, passkeys, typed_data
from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain
from registry.chain.deploy import CREATE2_DEPLOYER, OwnerContracts, ensure_deployed, predicted_owner_contracts
from registry.chain.node import connect
from registry.chain.owner_accounts import PasskeyChallenge, PasskeysUnsupported
from registry.chain.refusals import ExpiredSignature, InvalidSignature, StaleNonce, TwinStolen
from registry.chain.reverts import RevertDecoder
from registry.chain.sender import TxSender
from registry.errors import Conflict, ContractReverted, InvalidInput
from registry.runtime.wiring import CONTRACTS_WITH_ERRORS
from registry.settings import ANVIL_DEV_KEY
from tests.support.webauthn import Passkey

# The account factory's address on every chain with the CREATE2 deployer. Passkey accounts' addresses
# follow from it: a change of the factory's (or the account's) bytes would hand buyers new addresses.
FACTORY = "0xAa016Cb127a6972Da2FCa090b984BcE6D019d367"
STOLEN = 2
# Gas of a passkey-signed transfer of a deployed account with the precompile (the README's target).
PATH_A_TARGET = 120_000


@dataclass
class World:
    hardfork: str
    chain: TwinmarkChain
    collection: str
    state_file: Path

    @property
    def w3(self) -> Web3:
        return self.chain.w3

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def mint_to(self, owner: str, size: int = 1) -> list[int]:
        """Twins held by `owner`, each handed over once already (as a claim does: the twin's own
        storage is written, so the owner's transfer costs what it costs in real use)."""
        batch_id = self.chain.next_batch_id(self.collection)
        signer = self.chain.signer
        self.chain.sender.transact(
            self.chain.mint_fn(self.collection, batch_id, signer, size, 0, os.urandom(32), bytes(32))
        )
        tokens = [batch_id * 10_000 + i for i in range(1, size + 1)]
        col = self.chain.collection(self.collection)
        for token in tokens:
            self.chain.sender.transact(col.functions.transferFrom(signer, owner, token))
        return tokens

    def owner_of(self, token: int) -> str:
        return str(self.chain.call(self.chain.collection(self.collection).functions.ownerOf(token)))

    def receipt(self, tx_hash: str) -> TxReceipt:
        return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]

    def sent(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.chain.signer))


def new_chain(w3: Web3, registry: str, owners: OwnerContracts | None, p256_native: bool | None = None) -> TwinmarkChain:
    """The service's chain client, with a sender of its own: a test reverts the node to a snapshot
    afterwards, which a sender that remembered its transactions would take for a reorganisation."""
    decoder = RevertDecoder(artifacts.load(n).abi for n in CONTRACTS_WITH_ERRORS)
    sender = TxSender(w3, Account.from_key(ANVIL_DEV_KEY), decoder)
    return TwinmarkChain(w3, sender, registry, owners=owners, p256_native=p256_native, relay_wait=30)


@pytest.fixture(scope="module", params=["prague", "osaka"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with Anvil(hardfork=request.param) as node:
        w3 = connect(node.url)
        state_file = tmp_path_factory.mktemp(f"passkey-{request.param}") / "deployment.json"
        sender = TxSender(w3, Account.from_key(ANVIL_DEV_KEY), RevertDecoder([]))
        # A data directory from before the owner contracts: their next start deploys them.
        assert ensure_deployed(w3, sender, state_file, None, owner_accounts=False).owners is None
        assert "account_factory" not in json.loads(state_file.read_text())
        deployment = ensure_deployed(w3, sender, state_file, None)
        assert deployment.owners is not None and w3.eth.get_code(deployment.owners.helper)
        chain = new_chain(w3, deployment.registry, deployment.owners)
        brand = chain.register_brand(chain.signer, "Maison")
        collection = chain.create_collection(brand, "Bags", "BAG", "ipfs://bafy", chain.signer)
        yield World(request.param, chain, collection, state_file)


@pytest.fixture
def w(world: World) -> Iterator[World]:
    snapshot = world.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    chain = world.chain
    yield World(
        world.hardfork,
        new_chain(world.w3, chain.registry_address, chain.owner_contracts, chain.p256_native),
        world.collection,
        world.state_file,
    )
    world.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


def expected_path(w: World) -> str:
    return "erc1271" if w.hardfork == "osaka" else "execute"


def transfer(w: World, key: Passkey, account: str, token: int, to: str, **kw: Any) -> tuple[PasskeyChallenge, str]:
    """A passkey-signed transfer, relayed; (its challenge, its tx hash)."""
    nonce = w.chain.twin(w.collection, token).nonce  # type: ignore[union-attr]
    deadline = kw.pop("deadline", w.now() + 600)
    challenge = w.chain.passkey_transfer_digest(w.collection, token, account, to, nonce, deadline)
    auth = kw.pop("signer", key).assertion(challenge.digest)
    tx = w.chain.relay_passkey_transfer(
        w.collection, token, account, key.qx, key.qy, to, nonce, deadline, challenge, auth
    )
    return challenge, tx


def test_the_owner_contracts_are_found_where_their_code_puts_them(w: World) -> None:
    owners = w.chain.owner_contracts
    assert owners == predicted_owner_contracts()
    assert owners.factory == FACTORY
    factory = w.chain._contract(owners.factory, "TwinmarkAccountFactory")
    assert factory.functions.verifier().call() == owners.verifier
    assert factory.functions.implementation().call() == owners.implementation
    helper = w.chain._contract(owners.helper, "TwinmarkRelayHelper")
    assert helper.functions.factory().call() == owners.factory
    assert w.chain.passkeys_supported
    assert w.chain.p256_native == (w.hardfork == "osaka")

    # A state file written before the owner contracts existed (the module's start deployed them for
    # one), on a chain that has them: the next start finds them, sends nothing, remembers them.
    remembered = json.loads(w.state_file.read_text())
    assert remembered["account_factory"] == owners.factory and remembered["relay_helper"] == owners.helper
    old = {k: remembered[k] for k in ("chain_id", "registry", "implementation", "block")}
    w.state_file.write_text(json.dumps(old))
    before = w.sent()
    again = ensure_deployed(w.w3, w.chain.sender, w.state_file, None)
    assert (again.registry, again.owners) == (w.chain.registry_address, owners)
    assert w.sent() == before
    assert json.loads(w.state_file.read_text()) == remembered


def test_the_first_action_deploys_the_account_and_moves_the_twin_in_one_transaction(w: World) -> None:
    key = Passkey()
    account = w.chain.passkey_account(key.qx, key.qy)
    assert account == passkeys.predict_account(FACTORY, w.chain.owner_contracts.implementation, key.qx, key.qy)
    assert not w.chain.account_deployed(account)
    assert w.chain.account_nonce(account) == 0
    assert w.chain.account_has_signer(account, key.qx, key.qy)
    assert not w.chain.account_has_signer(account, *(lambda k: (k.qx, k.qy))(Passkey()))
    first, second = w.mint_to(account, 2)
    buyer, holder = Account.create().address, Account.create().address

    before = w.sent()
    challenge, tx = transfer(w, key, account, first, buyer)
    assert challenge.path == expected_path(w)
    assert w.chain.relay_state(tx) == "mined"
    assert w.sent() == before + 1  # deployed and moved in one transaction
    receipt = w.receipt(tx)
    assert receipt["to"] == w.chain.owner_contracts.helper
    assert w.chain.account_deployed(account)
    assert w.owner_of(first) == buyer

    # Deployed now: the same kind of relay goes straight to the collection (or the account).
    challenge, tx = transfer(w, key, account, second, holder)
    receipt = w.receipt(tx)
    direct = w.collection if w.hardfork == "osaka" else account
    assert receipt["to"] == direct
    assert w.owner_of(second) == holder
    if w.hardfork == "osaka":
        assert receipt["gasUsed"] <= PATH_A_TARGET
        assert challenge.account_nonce is None
    else:
        assert challenge.account_nonce == 1 and w.chain.account_nonce(account) == 2


def test_the_owner_reports_the_twin_stolen_with_the_passkey(w: World) -> None:
    key = Passkey()
    account = w.chain.passkey_account(key.qx, key.qy)
    [token] = w.mint_to(account)
    nonce, deadline = w.chain.twin(w.collection, token).nonce, w.now() + 600  # type: ignore[union-attr]
    challenge = w.chain.passkey_status_digest(w.collection, token, account, STOLEN, nonce, deadline)
    assert challenge.path == expected_path(w)
    auth = key.assertion(challenge.digest)
    w.chain.relay_passkey_status(w.collection, token, account, key.qx, key.qy, STOLEN, nonce, deadline, challenge, auth)
    assert w.chain.twin(w.collection, token).status == STOLEN  # type: ignore[union-attr]
    # A stolen twin does not move: the collection's refusal comes through the account's batch too.
    before = w.sent()
    with pytest.raises(TwinStolen):
        transfer(w, key, account, token, Account.create().address)
    assert w.sent() == before


def test_a_second_passkey_is_added_then_the_first_removed(w: World) -> None:
    first, second = Passkey(), Passkey()
    account = w.chain.passkey_account(first.qx, first.qy)

    def execute(key: Passkey, calls: list[tuple[str, int, bytes]]) -> str:
        deadline = w.now() + 600
        challenge = w.chain.passkey_execute_digest(account, calls, deadline)
        assert challenge.path == "execute"
        auth = key.assertion(challenge.digest)
        return w.chain.relay_passkey_execute(account, key.qx, key.qy, calls, deadline, challenge, auth)

    # The account's first action (undeployed: deployed by the helper in the same transaction).
    execute(first, [w.chain.add_signer_call(account, second.qx, second.qy)])
    assert w.chain.account_deployed(account)
    assert w.chain.account_has_signer(account, second.qx, second.qy)
    execute(second, [w.chain.remove_signer_call(account, first.qx, first.qy)])
    assert not w.chain.account_has_signer(account, first.qx, first.qy)
    assert w.chain.account_has_signer(account, second.qx, second.qy)

    # The removed passkey no longer acts; the last one cannot be removed. Refused before sending.
    [token] = w.mint_to(account)
    before = w.sent()
    with pytest.raises(InvalidSignature):
        transfer(w, first, account, token, Account.create().address)
    with pytest.raises(Conflict, match="last signer"):
        execute(second, [w.chain.remove_signer_call(account, second.qx, second.qy)])
    assert w.sent() == before
    # The second passkey moves the twin of the account it did not create.
    to = Account.create().address
    transfer(w, second, account, token, to)
    assert w.owner_of(token) == to


def test_replayed_expired_and_forged_actions_are_refused_before_sending(w: World) -> None:
    key, stranger = Passkey(), Passkey()
    account = w.chain.passkey_account(key.qx, key.qy)
    first, second = w.mint_to(account, 2)
    buyer = Account.create().address

    before = w.sent()
    with pytest.raises(ExpiredSignature):
        transfer(w, key, account, first, buyer, deadline=w.now() - 1)
    # The stranger's assertion under the owner's key; the stranger's own key for the owner's account.
    with pytest.raises(InvalidSignature):
        transfer(w, key, account, first, buyer, signer=stranger)
    with pytest.raises(InvalidSignature, match="not the one this account was created with"):
        transfer(w, stranger, account, first, buyer)
    assert w.sent() == before and not w.chain.account_deployed(account)

    # A genuine transfer, then the same signed relay again (a replay).
    nonce, deadline = w.chain.twin(w.collection, first).nonce, w.now() + 600  # type: ignore[union-attr]
    challenge = w.chain.passkey_transfer_digest(w.collection, first, account, buyer, nonce, deadline)
    auth = key.assertion(challenge.digest)
    args = (w.collection, first, account, key.qx, key.qy, buyer, nonce, deadline, challenge, auth)
    w.chain.relay_passkey_transfer(*args)
    assert w.owner_of(first) == buyer
    sent = w.sent()
    with pytest.raises(StaleNonce):
        w.chain.relay_passkey_transfer(*args)
    # The relayer swaps the recipient of a genuine signature.
    nonce = w.chain.twin(w.collection, second).nonce  # type: ignore[union-attr]
    challenge = w.chain.passkey_transfer_digest(w.collection, second, account, buyer, nonce, deadline)
    auth = key.assertion(challenge.digest)
    thief = Account.create().address
    with pytest.raises(InvalidSignature):
        w.chain.relay_passkey_transfer(
            w.collection, second, account, key.qx, key.qy, thief, nonce, deadline, challenge, auth
        )
    assert w.sent() == sent
    assert w.owner_of(second) == account


def test_the_relay_helper_does_nothing_a_signature_did_not_allow(w: World) -> None:
    """Anyone may call the helper: called directly by an attacker, it refuses what the account's
    signers did not sign, and its refusal undoes the account deployment it started."""
    victim, attacker = Passkey(), Passkey()
    account = w.chain.passkey_account(victim.qx, victim.qy)
    [token] = w.mint_to(account)
    thief = Account.create().address
    helper = w.chain._contract(w.chain.owner_contracts.helper, "TwinmarkRelayHelper")
    verifier = w.chain.owner_contracts.verifier
    deadline = w.now() + 600

    def attempt(fn: Any, error: str) -> None:
        with pytest.raises(ContractReverted, match=f"^{error}"):
            w.chain.call(fn)
        # Sent anyway (an attacker pays its own gas): it reverts and nothing stays deployed.
        tx = fn.transact({"from": w.w3.eth.accounts[5], "gas": 3_000_000})
        assert w.w3.eth.wait_for_transaction_receipt(tx)["status"] == 0

    # executeBySig for the victim's account, signed by the attacker's passkey (named as the victim's
    # signer, then as its own).
    calls = [w.chain._transfer_call(w.collection, token, account, thief)]
    data = passkeys.batch(calls)
    digest = passkeys.execute_digest(w.chain.chain_id, account, passkeys.BATCH_MODE, data, 0, deadline)
    for signer in (victim.signer(verifier), attacker.signer(verifier)):
        forged = passkeys.multisig([signer], [attacker.assertion(digest)])
        fn = helper.functions.executeBySig(victim.qx, victim.qy, passkeys.BATCH_MODE, data, 0, deadline, forged)
        attempt(fn, "TwinmarkPasskeyAccountInvalidSignature")
    # transferBySig of the victim's twin with the attacker's assertion.
    nonce = w.chain.twin(w.collection, token).nonce  # type: ignore[union-attr]
    challenge = w.chain.passkey_transfer_digest(w.collection, token, account, thief, nonce, deadline)
    forged = passkeys.multisig([victim.signer(verifier)], [attacker.assertion(challenge.digest)])
    if w.hardfork == "osaka":
        args = (w.collection, thief, token, nonce, deadline, forged)
        fn = helper.functions.transferBySig(victim.qx, victim.qy, *args)
        attempt(fn, "TwinmarkCollectionInvalidSignature")
    # The helper takes no other call: the collection's transferFrom, the account's own entry points.
    col = w.chain.collection(w.collection)
    for data_hex in (
        col.functions.transferFrom(account, thief, token)._encode_transaction_data(),
        w.chain._account(account).functions.execute(passkeys.BATCH_MODE, data)._encode_transaction_data(),
    ):
        with pytest.raises(ContractLogicError):  # no such function, no fallback: a bare revert
            w.w3.eth.call({"to": helper.address, "data": data_hex})
    # It holds nothing and can be given nothing: a twin sent to it by signature is refused (it has no
    # onERC721Received), so nobody can leave a twin there for the next caller to take.
    seller = Account.create()
    [gift] = w.mint_to(seller.address)
    nonce = w.chain.twin(w.collection, gift).nonce  # type: ignore[union-attr]
    message = {"to": helper.address, "tokenId": gift, "nonce": nonce, "deadline": deadline}
    signature = typed_data.sign(seller, typed_data.typed_data("TransferTwin", w.chain.chain_id, w.collection, message))
    with pytest.raises(InvalidInput, match="cannot receive"):
        w.chain.transfer_by_sig(w.collection, helper.address, gift, nonce, deadline, signature)
    assert col.functions.balanceOf(helper.address).call() == 0
    assert not w.chain.account_deployed(account)
    assert w.owner_of(token) == account


def test_without_the_create2_deployer_passkeys_are_unsupported(w: World, tmp_path: Path) -> None:
    """A chain without the deterministic deployer (Anvil's `--no-create2`, some chains): the service
    starts, says passkeys are unsupported, and refuses passkey work with a stable problem type."""
    w.w3.provider.make_request(RPCEndpoint("anvil_setCode"), [CREATE2_DEPLOYER, "0x"])
    state_file = tmp_path / "deployment.json"
    deployment = ensure_deployed(w.w3, w.chain.sender, state_file, None)
    assert deployment.owners is None
    assert "account_factory" not in json.loads(state_file.read_text())
    chain = new_chain(w.w3, deployment.registry, deployment.owners)
    assert not chain.passkeys_supported
    key = Passkey()
    for attempt in (
        lambda: chain.passkey_account(key.qx, key.qy),
        lambda: chain.passkey_transfer_digest(w.collection, 1, w.chain.signer, w.chain.signer, 0, w.now() + 60),
        lambda: chain.passkey_execute_digest(w.chain.signer, [], w.now() + 60),
    ):
        with pytest.raises(PasskeysUnsupported) as caught:
            attempt()
        assert caught.value.code == "passkeys-unsupported" and caught.value.status == 501
