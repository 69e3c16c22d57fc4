"""A cold wallet acting through a hot one (delegate.xyz v2, its registry deployed on Anvil at the
canonical address): a delegate for all, for the collection or for one token sees and redeems the
vault's privileges (the receipt names the vault, the redemption the delegate); a non-delegate is
refused, and a delegation withdrawn ends it. Real stack, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from registry.privileges.receipts import decode
from tests.api.conftest import Stack
from tests.api.test_lifecycle import problem
from tests.privileges.conftest import World, session_of

ARTIFACT = (
    Path(__file__).resolve().parents[2]
    / "artifacts/contracts/vendor/delegate-registry/DelegateRegistry.sol/DelegateRegistry.json"
)
CANONICAL = "0x00000000000000447e69651d841bD8D104Bed493"


@pytest.fixture(scope="module")
def registry(world: World) -> Any:
    """delegate.xyz's registry at its canonical address (the default of the setting)."""
    assert world.stack.runtime.settings.privilege_delegate_registry == CANONICAL
    doc = json.loads(ARTIFACT.read_text())
    w3 = Web3(Web3.HTTPProvider(world.stack.anvil.url))
    w3.provider.make_request("anvil_setCode", [CANONICAL, doc["deployedBytecode"]])  # type: ignore[arg-type]
    return w3.eth.contract(address=Web3.to_checksum_address(CANONICAL), abi=doc["abi"])


def _send(stack: Stack, registry: Any, account: LocalAccount, call: Any) -> None:
    w3 = registry.w3
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**18)])
    tx = call.build_transaction({"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)})
    sent = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1


def _redeem(world: World, hot: dict[str, str], pid: int, token: int, vault: str) -> Any:
    body = {"collection": world.collection, "token_id": token, "vault": vault}
    return world.stack.client.post(f"/v1/privileges/{pid}/redeem", json=body, headers=hot)


def _seen(world: World, hot: dict[str, str], vault: str) -> Any:
    return world.stack.client.get("/v1/me/privileges", params={"vault": vault}, headers=hot)


def test_a_delegate_for_all_acts_for_the_cold_wallet_and_a_stranger_is_refused(world: World, registry: Any) -> None:
    cold, token = world.owned_twin()
    hot, stranger = Account.create(), Account.create()
    pid = world.privilege()
    hot_session, stranger_session = session_of(world.stack, hot), session_of(world.stack, stranger)
    # Before any delegation: refused.
    problem(_seen(world, hot_session, cold.address), 403, "not-a-delegate")
    problem(_redeem(world, hot_session, pid, token, cold.address), 403, "not-a-delegate")
    _send(world.stack, registry, cold, registry.functions.delegateAll(hot.address, b"\x00" * 32, True))
    seen = _seen(world, hot_session, cold.address)
    assert seen.status_code == 200, seen.text
    assert seen.json()["owner"] == cold.address and seen.json()["acting_as_delegate"] is True
    assert [t["token_id"] for t in seen.json()["twins"]] == [token]
    problem(_seen(world, stranger_session, cold.address), 403, "not-a-delegate")
    problem(_redeem(world, stranger_session, pid, token, cold.address), 403, "not-a-delegate")
    r = _redeem(world, hot_session, pid, token, cold.address)
    assert r.status_code == 201, r.text
    assert decode(r.json()["receipt"])[0].owner == cold.address
    row = world.stack.client.get("/v1/privileges/redemptions", params={"privilege_id": pid}, headers=world.brand)
    assert (
        row.json()["redemptions"][0]["actor"] == hot.address and row.json()["redemptions"][0]["owner"] == cold.address
    )
    # Without naming the vault, the hot wallet holds nothing of its own.
    assert world.stack.client.get("/v1/me/privileges", headers=hot_session).json()["twins"] == []
    # The delegation withdrawn: refused again.
    _send(world.stack, registry, cold, registry.functions.delegateAll(hot.address, b"\x00" * 32, False))
    problem(_seen(world, hot_session, cold.address), 403, "not-a-delegate")


def test_delegations_for_a_collection_and_for_one_token(world: World, registry: Any) -> None:
    cold, first = world.owned_twin()
    _, second = world.owned_twin(cold)
    pid = world.privilege()
    by_contract, by_token = Account.create(), Account.create()
    _send(
        world.stack,
        registry,
        cold,
        registry.functions.delegateContract(by_contract.address, world.collection, b"\x00" * 32, True),
    )
    _send(
        world.stack,
        registry,
        cold,
        registry.functions.delegateERC721(by_token.address, world.collection, first, b"\x00" * 32, True),
    )
    whole = _seen(world, session_of(world.stack, by_contract), cold.address).json()
    assert sorted(t["token_id"] for t in whole["twins"]) == sorted([first, second])
    one = session_of(world.stack, by_token)
    assert [t["token_id"] for t in _seen(world, one, cold.address).json()["twins"]] == [first]
    problem(_redeem(world, one, pid, second, cold.address), 403, "not-a-delegate")
    assert _redeem(world, one, pid, first, cold.address).status_code == 201
