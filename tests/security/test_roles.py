"""One hot key no longer holds every role: the registry owner (operator) is its own key, and a brand
that registers with its own admin address leaves the service only a minter role it can revoke."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import Web3

from registry.chain.sender import TxSender
from registry.errors import ContractReverted
from tests.api.conftest import SIGNER_KEY, Stack, fresh_stack, physical

OPERATOR_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # Anvil dev account 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(tmp_path_factory.mktemp("roles"), indexer_in_process=False, operator_key=OPERATOR_KEY) as running:
        yield running


def test_operator_and_signer_are_different_keys_on_chain(stack: Stack) -> None:
    chain = stack.runtime.chain
    operator, signer = Account.from_key(OPERATOR_KEY).address, Account.from_key(SIGNER_KEY).address
    assert chain.registry.functions.owner().call() == operator != signer
    # The hot signer cannot act as the operator.
    with pytest.raises(ContractReverted, match="OwnableUnauthorizedAccount"):
        chain.sender.transact(chain.registry.functions.registerBrand(signer, "Usurper"))
    # Operator routes still work: they are signed by the operator's key.
    headers, _ = stack.new_brand("Role House", "ROL")
    brand_id = stack.client.get("/v1/brands/me", headers=headers).json()["id"]
    r = stack.client.post(f"/v1/brands/{brand_id}/compromise", json={"since": 1}, headers=stack.operator)
    assert r.status_code == 200, r.text
    assert stack.runtime.w3.eth.get_transaction(r.json()["tx_hash"])["from"] == operator


def test_a_brand_with_its_own_admin_can_revoke_the_service(stack: Stack) -> None:
    admin = Account.create()
    body = {"name": "Own Keys Maison", "symbol": "OWN", "admin_address": admin.address}
    r = stack.client.post("/v1/brands", json=body, headers=stack.operator)
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['api_key']}"}
    collection = r.json()["collections"][0]["address"]
    chain = stack.runtime.chain
    col = chain.collection(collection)
    signer = Account.from_key(SIGNER_KEY).address
    assert chain.registry.functions.brandAdmin(r.json()["chain_brand_id"]).call() == admin.address
    assert col.functions.isMinter(signer).call() is True  # the service only mints
    first = stack.wait_job(headers, stack.client.post("/v1/twins", json=physical("O-1"), headers=headers).json()["id"])
    assert first["state"] == "completed"

    # The brand, from its own key, takes the minter role back on chain.
    w3 = stack.runtime.w3
    w3.provider.make_request("anvil_setBalance", [admin.address, hex(10**18)])  # type: ignore[arg-type]
    TxSender(w3, admin, chain.sender.decoder).transact(col.functions.setMinter(Web3.to_checksum_address(signer), False))
    assert col.functions.isMinter(signer).call() is False
    job = stack.wait_job(headers, stack.client.post("/v1/twins", json=physical("O-2"), headers=headers).json()["id"])
    assert job["state"] == "failed" and "Unauthorized" in (job["error"] or ""), job
