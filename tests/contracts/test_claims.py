"""Claims: a secret shipped with the item proves possession; the claim is bound to its recipient."""

from __future__ import annotations

import pytest

from registry.claims.keys import claim_key, new_secret
from registry.claims.merkle import ClaimTree, verify
from registry.errors import ContractReverted
from tests.contracts.chain import STOLEN, Deployment, claim_args, mint, mint_claimable


def test_claim_moves_the_twin_from_custody_to_the_buyer(d: Deployment) -> None:
    batch = mint_claimable(d, 5)
    token = batch.first + 2
    buyer = d.chain.new_account().address
    relayer = d.chain.new_account().address
    before = d.col_a.functions.twin(token).call()
    assert before[4:6] == (False, True)  # not claimed, claimable
    receipt = d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, token, buyer)), relayer)
    assert d.chain.events(d.col_a, "Claimed", receipt)[0]["tokenId"] == token
    transfer = d.chain.events(d.col_a, "Transfer", receipt)[0]
    assert (transfer["from"], transfer["to"]) == (d.minter_a, buyer)
    after = d.col_a.functions.twin(token).call()
    assert after[0] == buyer and after[4:6] == (True, False)
    assert d.col_a.functions.balanceOf(d.minter_a).call() == 4
    assert d.col_a.functions.ownerOf(token + 1).call() == d.minter_a


def test_a_twin_is_claimed_at_most_once(d: Deployment) -> None:
    batch = mint_claimable(d, 2)
    buyer = d.chain.new_account().address
    args = claim_args(d, d.col_a, batch, batch.first, buyer)
    d.chain.send(d.col_a.functions.claim(*args), d.operator)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionAlreadyClaimed"):
        d.chain.send(d.col_a.functions.claim(*args), d.operator)
    # Even after the buyer sends it back to the brand, it cannot be claimed again.
    d.chain.send(d.col_a.functions.transferFrom(buyer, d.minter_a, batch.first), buyer)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionAlreadyClaimed"):
        d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, batch.first, buyer)), d.operator)


def test_wrong_secret_or_wrong_proof_reverts(d: Deployment) -> None:
    batch = mint_claimable(d, 4)
    buyer = d.chain.new_account().address
    token = batch.first
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
        d.chain.send(
            d.col_a.functions.claim(*claim_args(d, d.col_a, batch, token, buyer, secret=new_secret())), d.operator
        )
    # The secret of a sibling twin does not open this one.
    sibling_secret = batch.secrets[token + 1]
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
        d.chain.send(
            d.col_a.functions.claim(*claim_args(d, d.col_a, batch, token, buyer, secret=sibling_secret)), d.operator
        )
    args = list(claim_args(d, d.col_a, batch, token, buyer))
    args[5] = batch.tree.proof(token + 1)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
        d.chain.send(d.col_a.functions.claim(*args), d.operator)
    assert d.col_a.functions.ownerOf(token).call() == d.minter_a


def test_a_copied_claim_cannot_be_redirected(d: Deployment) -> None:
    batch = mint_claimable(d, 2)
    buyer = d.chain.new_account().address
    front_runner = d.chain.new_account().address
    args = list(claim_args(d, d.col_a, batch, batch.first, buyer))
    args[1] = front_runner  # same signature and proof, other recipient
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
        d.chain.send(d.col_a.functions.claim(*args), front_runner)
    d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, batch.first, buyer)), front_runner)
    assert d.col_a.functions.ownerOf(batch.first).call() == buyer


def test_expired_claim_reverts(d: Deployment) -> None:
    batch = mint_claimable(d, 1)
    args = claim_args(d, d.col_a, batch, batch.first, d.operator, deadline=d.chain.now() - 1)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionExpiredSignature"):
        d.chain.send(d.col_a.functions.claim(*args), d.operator)


def test_claim_signed_for_another_collection_fails(d: Deployment) -> None:
    batch_a = mint_claimable(d, 1)
    batch_b = mint_claimable(d, 1, col=d.col_b)
    buyer = d.chain.new_account().address
    # Token ids coincide across collections; the signature domain and key derivation do not.
    assert batch_a.first == batch_b.first
    args = claim_args(d, d.col_b, batch_b, batch_b.first, buyer)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
        d.chain.send(d.col_a.functions.claim(*args), d.operator)


def test_twins_without_a_claim_root_are_not_claimable(d: Deployment) -> None:
    first, _ = mint(d, 1)
    dummy = mint_claimable(d, 1)
    args = list(claim_args(d, d.col_a, dummy, dummy.first, d.operator))
    args[0] = first
    with pytest.raises(ContractReverted, match="TwinmarkCollectionNotClaimable"):
        d.chain.send(d.col_a.functions.claim(*args), d.operator)


def test_stolen_or_moved_twins_cannot_be_claimed(d: Deployment) -> None:
    batch = mint_claimable(d, 2)
    buyer = d.chain.new_account().address
    d.chain.send(d.col_a.functions.setStatusByBrand(batch.first, STOLEN), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkERC721TwinStolen"):
        d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, batch.first, buyer)), d.operator)
    retailer = d.chain.new_account().address
    d.chain.send(d.col_a.functions.transferFrom(d.minter_a, retailer, batch.first + 1), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionNotInCustody"):
        d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, batch.first + 1, buyer)), d.operator)


def test_claim_tree_matches_openzeppelin_for_many_sizes(d: Deployment) -> None:
    # Python proofs verify in Python for odd and even sizes, including a single leaf.
    for size in (1, 2, 3, 7, 100, 1000):
        leaves = [(10_001 + i, claim_key(new_secret(), 1, d.col_a.address).address) for i in range(size)]
        tree = ClaimTree(leaves)
        for token, key in leaves[:: max(1, size // 10)]:
            assert verify(tree.proof(token), tree.root, token, key)
        assert not verify(tree.proof(leaves[0][0]), tree.root, leaves[0][0], leaves[-1][1]) or size == 1


def test_claim_from_a_large_batch_on_chain(d: Deployment) -> None:
    batch = mint_claimable(d, 1000)
    buyer = d.chain.new_account().address
    for token in (batch.first, batch.first + 511, batch.first + 999):
        d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, token, buyer)), d.operator)
    assert d.col_a.functions.balanceOf(buyer).call() == 3


def test_secrets_are_long_random_and_normalised() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100 and all(len(s) == 32 for s in secrets)
    s = next(iter(secrets))
    coll = "0x" + "11" * 20
    grouped = "-".join(s[i : i + 4] for i in range(0, 32, 4)).lower()
    other = "0x" + "22" * 20
    assert claim_key(s, 1, coll).address == claim_key(grouped, 1, coll).address
    assert claim_key(s, 1, coll).address != claim_key(s, 1, other).address
    assert claim_key(s, 1, coll).address != claim_key(s, 2, coll).address
    with pytest.raises(ValueError, match="128 bits"):
        claim_key("ABCDEFGH", 1, coll)
