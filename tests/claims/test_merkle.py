"""ClaimTree: roots and proofs for every batch shape, checked against an independent construction
and against OpenZeppelin's MerkleProof as the real collection runs it inside `claim`."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.claims.keys import claim_key, new_secret
from registry.claims.merkle import ClaimTree, leaf_hash, verify
from registry.errors import ContractReverted
from tests.contracts.chain import ClaimableBatch, Deployment, claim_args, mint_claimable

# ---------------------------------------------------------------- an independent reference


def _abi_leaf(token_id: int, key: str) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(tokenId, claimKey)))), with the ABI words laid out by hand."""
    encoded = token_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(key[2:])
    return keccak(keccak(encoded))


def _commutative(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's Hashes.commutativeKeccak256."""
    return keccak(min(a, b) + max(a, b))


def _reference_root(nodes: list[bytes]) -> bytes:
    """Recursive RFC 6962 shape (split at the largest power of two below n), which is the shape a
    bottom-up pairing gives when an unpaired node moves up unchanged."""
    if len(nodes) == 1:
        return nodes[0]
    split = 1 << ((len(nodes) - 1).bit_length() - 1)
    return _commutative(_reference_root(nodes[:split]), _reference_root(nodes[split:]))


def _process_proof(leaf: bytes, proof: list[bytes]) -> bytes:
    """OpenZeppelin's MerkleProof.processProof."""
    node = leaf
    for sibling in proof:
        node = _commutative(node, sibling)
    return node


def _key(i: int) -> str:
    return str(to_checksum_address(keccak(text=f"claim-key-{i}")[:20]))


def _leaves(n: int, first: int = 70_001) -> list[tuple[int, str]]:
    return [(first + i, _key(i)) for i in range(n)]


def _flip(node: bytes) -> bytes:
    return bytes([node[0] ^ 1]) + node[1:]


# ---------------------------------------------------------------- the tree in Python


def test_leaf_hash_is_the_double_hashed_abi_encoding() -> None:
    """leaf_hash matches the leaf the contract computes: keccak(keccak(abi.encode(uint256, address)))."""
    for token, key in [*_leaves(3), (2**256 - 1, _key(99)), (0, "0x" + "00" * 20)]:
        assert leaf_hash(token, key) == _abi_leaf(token, key)
    token, key = _leaves(1)[0]
    single = keccak(token.to_bytes(32, "big") + bytes(12) + bytes.fromhex(key[2:]))
    assert leaf_hash(token, key) != single  # double-hashed: a leaf never equals a one-hash node


def test_a_single_leaf_is_its_own_root_with_an_empty_proof() -> None:
    """One twin: the root is the leaf and the proof is empty (OpenZeppelin accepts that)."""
    [(token, key)] = _leaves(1)
    tree = ClaimTree([(token, key)])
    assert tree.root == _abi_leaf(token, key)
    assert tree.proof(token) == []
    assert verify([], tree.root, token, key)


def test_two_leaves_hash_in_sorted_order() -> None:
    """Two twins: the root is keccak of the two leaves in ascending byte order, whatever the input order."""
    (t0, k0), (t1, k1) = _leaves(2)
    a, b = _abi_leaf(t0, k0), _abi_leaf(t1, k1)
    expected = keccak(min(a, b) + max(a, b))
    assert ClaimTree([(t0, k0), (t1, k1)]).root == expected
    assert ClaimTree([(t1, k1), (t0, k0)]).root == expected
    assert ClaimTree([(t0, k0), (t1, k1)]).proof(t0) == [b]


def test_three_leaves_promote_the_unpaired_one() -> None:
    """Three twins: the third leaf moves up unchanged, so its proof is the single node over the first two."""
    leaves = _leaves(3)
    l0, l1, l2 = (_abi_leaf(t, k) for t, k in leaves)
    tree = ClaimTree(leaves)
    assert tree.root == _commutative(_commutative(l0, l1), l2)
    assert tree.proof(leaves[2][0]) == [_commutative(l0, l1)]
    assert tree.proof(leaves[0][0]) == [l1, l2]


@pytest.mark.parametrize("n", range(1, 34))
def test_root_and_every_proof_for_n_leaves(n: int) -> None:
    """For 1..33 leaves the root equals the recursive reference and every leaf's proof reaches it,
    in at most ceil(log2 n) steps (exactly log2 n for a power of two)."""
    leaves = _leaves(n)
    tree = ClaimTree(leaves)
    assert tree.root == _reference_root([_abi_leaf(t, k) for t, k in leaves])
    depth = (n - 1).bit_length()
    for token, key in leaves:
        proof = tree.proof(token)
        assert verify(proof, tree.root, token, key)
        assert _process_proof(_abi_leaf(token, key), proof) == tree.root
        assert len(proof) <= depth
        if n & (n - 1) == 0:
            assert len(proof) == depth


@given(
    st.lists(
        st.tuples(st.integers(0, 2**256 - 1), st.binary(min_size=20, max_size=20)),
        min_size=1,
        max_size=40,
        unique_by=lambda leaf: leaf[0],
    )
)
@settings(max_examples=60, deadline=None)
def test_any_leaves_match_the_reference(raw: list[tuple[int, bytes]]) -> None:
    """Arbitrary token ids (full uint256 range) and keys: root matches the reference, proofs verify."""
    leaves = [(token, str(to_checksum_address(key))) for token, key in raw]
    tree = ClaimTree(leaves)
    assert tree.root == _reference_root([_abi_leaf(t, k) for t, k in leaves])
    for token, key in leaves:
        assert _process_proof(_abi_leaf(token, key), tree.proof(token)) == tree.root


@pytest.mark.parametrize("n", [2, 3, 7, 8, 33])
def test_wrong_token_or_key_fails(n: int) -> None:
    """A proof opens its own (token, key) leaf only: another token id or another key is refused."""
    leaves = _leaves(n)
    tree = ClaimTree(leaves)
    for i, (token, key) in enumerate(leaves):
        proof = tree.proof(token)
        other_token, other_key = leaves[(i + 1) % n]
        assert not verify(proof, tree.root, other_token, key)
        assert not verify(proof, tree.root, token, other_key)
        assert not verify(proof, tree.root, token + 10_000, key)


@pytest.mark.parametrize("n", [2, 3, 7, 33])
def test_tampered_proofs_fail(n: int) -> None:
    """Flipping a bit of any proof node, dropping or adding a node, or another root: refused."""
    leaves = _leaves(n)
    tree = ClaimTree(leaves)
    for token, key in leaves:
        proof = tree.proof(token)
        assert proof, "every leaf of a tree with 2+ leaves has a sibling somewhere"
        for j in range(len(proof)):
            tampered = [*proof[:j], _flip(proof[j]), *proof[j + 1 :]]
            assert not verify(tampered, tree.root, token, key)
        assert not verify(proof[:-1], tree.root, token, key)
        assert not verify([*proof, proof[-1]], tree.root, token, key)
        assert not verify(proof, _flip(tree.root), token, key)


def test_empty_tree_and_unknown_token_are_refused() -> None:
    """No tree without leaves; no proof for a token that is not a leaf."""
    with pytest.raises(ValueError, match="at least one leaf"):
        ClaimTree([])
    tree = ClaimTree(_leaves(3))
    with pytest.raises(KeyError):
        tree.proof(1)


# ---------------------------------------------------------------- OpenZeppelin on chain


def _claim_call(d: Deployment, batch: ClaimableBatch, token: int, to: str, proof: list[bytes] | None = None) -> None:
    """Runs `claim` as an eth_call (no state change); raises ContractReverted when the contract refuses."""
    args = list(claim_args(d, d.col_a, batch, token, to))
    if proof is not None:
        args[5] = proof
    d.chain.call(d.col_a.functions.claim(*args))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 33])
def test_openzeppelin_accepts_every_proof_of_the_tree(d: Deployment, size: int) -> None:
    """The root from ClaimTree, minted on chain, and each leaf's proof pass MerkleProof.verifyCalldata
    in the collection's `claim`; the proof of a neighbouring leaf does not."""
    batch = mint_claimable(d, size)
    batch_id = batch.first // 10_000
    assert d.col_a.functions.batch(batch_id).call()[2] == batch.tree.root
    buyer = d.chain.new_account().address
    tokens = list(batch.secrets)
    for token in tokens:
        _claim_call(d, batch, token, buyer)
    if size > 1:
        for i, token in enumerate(tokens):
            neighbour = tokens[(i + 1) % size]
            with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
                _claim_call(d, batch, token, buyer, proof=batch.tree.proof(neighbour))
    else:
        with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
            _claim_call(d, batch, tokens[0], buyer, proof=[batch.tree.root])


def test_claims_from_a_batch_of_seven_on_chain(d: Deployment) -> None:
    """Real claim transactions for several leaves of a 7-leaf tree (including the promoted seventh)
    succeed; a wrong leaf's proof or a tampered proof is refused and the twin stays in custody."""
    batch = mint_claimable(d, 7)
    buyer = d.chain.new_account().address
    relayer = d.chain.new_account().address
    claimed = [batch.first, batch.first + 3, batch.first + 6]
    # The unpaired seventh leaf skips the bottom level: two proof nodes where the others need three.
    assert [len(batch.tree.proof(t)) for t in batch.secrets] == [3, 3, 3, 3, 3, 3, 2]
    for token in claimed:
        receipt = d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, token, buyer)), relayer)
        assert [e["tokenId"] for e in d.chain.events(d.col_a, "Claimed", receipt)] == [token]
        assert d.col_a.functions.ownerOf(token).call() == buyer
    assert d.col_a.functions.balanceOf(buyer).call() == len(claimed)

    target = batch.first + 1
    wrong_leaf = list(claim_args(d, d.col_a, batch, target, buyer))
    wrong_leaf[5] = batch.tree.proof(target + 1)
    tampered = list(claim_args(d, d.col_a, batch, target, buyer))
    tampered[5] = [_flip(tampered[5][0]), *tampered[5][1:]]
    keys = {t: claim_key(s, d.chain.chain_id, d.col_a.address).address for t, s in batch.secrets.items()}
    reordered = ClaimTree(list(reversed(keys.items())))  # same leaves, other order: another root
    other_tree = list(claim_args(d, d.col_a, batch, target, buyer))
    other_tree[5] = reordered.proof(target)
    assert reordered.root != batch.tree.root
    for args in (wrong_leaf, tampered, other_tree):
        with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
            d.chain.send(d.col_a.functions.claim(*args), relayer)
    assert d.col_a.functions.ownerOf(target).call() == d.minter_a
    # The untouched proof still works afterwards: nothing about the tree was consumed by the refusals.
    d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, target, buyer)), relayer)
    assert d.col_a.functions.ownerOf(target).call() == buyer


def test_a_secret_outside_the_tree_is_refused_on_chain(d: Deployment) -> None:
    """A fresh secret (its key is no leaf) with the right token's proof: the contract refuses it."""
    batch = mint_claimable(d, 3)
    args = claim_args(d, d.col_a, batch, batch.first, d.operator, secret=new_secret())
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
        d.chain.call(d.col_a.functions.claim(*args))
