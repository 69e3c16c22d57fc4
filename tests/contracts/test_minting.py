"""Batch-anchored minting: one anchor per batch, one Transfer per twin, lazily stored ownership."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from registry.errors import ContractReverted
from registry.ipfs.cid import DAG_PB, cid_v1
from tests.contracts.chain import PHYSICAL, VIRTUAL, Deployment, mint, random_digest

TRANSFER_TOPIC = keccak(text="Transfer(address,address,uint256)")


def test_batch_mint_emits_one_transfer_per_twin_and_points_uris_at_the_directory(d: Deployment) -> None:
    anchor = random_digest()
    custodian = d.chain.new_account().address
    first, receipt = mint(d, 5, custodian=custodian, anchor=anchor, kind=VIRTUAL)
    assert first == 10_001
    transfers = [log for log in receipt["logs"] if log["topics"][0] == TRANSFER_TOPIC]
    assert [int.from_bytes(log["topics"][3], "big") for log in transfers] == list(range(10_001, 10_006))
    assert all(int.from_bytes(log["topics"][1], "big") == 0 for log in transfers)
    event = d.chain.events(d.col_a, "BatchMinted", receipt)[0]
    assert (event["batchId"], event["size"], event["kind"], event["minter"]) == (1, 5, VIRTUAL, d.minter_a)
    assert event["anchor"] == anchor

    directory = cid_v1(DAG_PB, anchor)
    for token_id in range(10_001, 10_006):
        assert d.col_a.functions.ownerOf(token_id).call() == custodian
        assert d.col_a.functions.tokenURI(token_id).call() == f"ipfs://{directory}/{token_id}"
        assert d.col_a.functions.kindOf(token_id).call() == VIRTUAL
    assert d.col_a.functions.balanceOf(custodian).call() == 5
    assert d.col_a.functions.totalSupply().call() == 5
    assert d.col_a.functions.nextBatchId().call() == 2
    batch, stored_anchor, claim_root = d.col_a.functions.batch(1).call()
    assert batch[0] == custodian and batch[1] == 5 and batch[2] == VIRTUAL
    assert batch[3] == d.chain.now()
    assert (stored_anchor, claim_root) == (anchor, b"\x00" * 32)


def test_second_batch_continues_at_the_next_stride(d: Deployment) -> None:
    mint(d, 3)
    first, _ = mint(d, 2)
    assert first == 20_001
    assert d.col_a.functions.totalSupply().call() == 5


@pytest.mark.parametrize("token_id", [10_000, 10_004, 20_001, 0, 7])
def test_ids_outside_minted_batches_do_not_exist(d: Deployment, token_id: int) -> None:
    mint(d, 3)
    with pytest.raises(ContractReverted) as err:
        d.chain.call(d.col_a.functions.ownerOf(token_id))
    assert (err.value.name, err.value.error_args) == ("ERC721NonexistentToken", (token_id,))


def test_largest_batch_of_4096(d: Deployment) -> None:
    anchor = random_digest()
    first, receipt = mint(d, 4096, anchor=anchor)
    last = first + 4095
    assert last == 14_096
    assert d.col_a.functions.ownerOf(last).call() == d.minter_a
    assert d.col_a.functions.tokenURI(last).call().endswith(f"{cid_v1(DAG_PB, anchor)}/14096")
    assert sum(1 for log in receipt["logs"] if log["topics"][0] == TRANSFER_TOPIC) == 4096


@pytest.mark.parametrize("size", [0, 4097])
def test_batch_size_out_of_range_reverts(d: Deployment, size: int) -> None:
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidBatchSize"):
        mint(d, size)


def test_replayed_mint_with_a_used_batch_id_reverts(d: Deployment) -> None:
    mint(d, 2)
    fn = d.col_a.functions.mintBatch(1, d.minter_a, 2, PHYSICAL, random_digest(), b"\x00" * 32)
    with pytest.raises(ContractReverted) as err:
        d.chain.send(fn, d.minter_a)
    assert err.value.name == "TwinmarkCollectionUnexpectedBatchId"
    assert err.value.error_args == (2, 1)


def test_zero_anchor_and_zero_custodian_revert(d: Deployment) -> None:
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidAnchor"):
        mint(d, 1, anchor=b"\x00" * 32)
    fn = d.col_a.functions.mintBatch(1, "0x" + "00" * 20, 1, PHYSICAL, random_digest(), b"\x00" * 32)
    with pytest.raises(ContractReverted, match="ERC721InvalidReceiver"):
        d.chain.send(fn, d.minter_a)


def test_only_minters_of_the_brand_mint(d: Deployment) -> None:
    stranger = d.chain.new_account().address
    for sender in (stranger, d.minter_b, d.admin_a, d.operator):
        with pytest.raises(ContractReverted) as err:
            mint(d, 1, minter=sender)
        assert err.value.name == "TwinmarkCollectionUnauthorized"
    assert d.col_a.functions.totalSupply().call() == 0


def test_brand_admin_grants_and_revokes_minters(d: Deployment) -> None:
    new_minter = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setMinter(new_minter, True), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setMinter(new_minter, True), d.admin_b)
    d.chain.send(d.col_a.functions.setMinter(new_minter, True), d.admin_a)
    assert d.col_a.functions.isMinter(new_minter).call()
    mint(d, 1, minter=new_minter)
    d.chain.send(d.col_a.functions.setMinter(new_minter, False), d.admin_a)
    assert not d.col_a.functions.isMinter(new_minter).call()
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        mint(d, 1, minter=new_minter)


def test_balance_of_zero_address_reverts(d: Deployment) -> None:
    with pytest.raises(ContractReverted, match="ERC721InvalidOwner"):
        d.chain.call(d.col_a.functions.balanceOf("0x" + "00" * 20))
