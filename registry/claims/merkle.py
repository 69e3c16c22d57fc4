"""Merkle commitment over `(tokenId, claimKey)` leaves, compatible with OpenZeppelin MerkleProof.

Leaves are `keccak256(keccak256(abi.encode(uint256 tokenId, address claimKey)))` (double-hashed,
as OpenZeppelin's StandardMerkleTree does, so a leaf can never pass for an inner node); inner
nodes hash their two children in sorted order, and a node without a sibling moves up unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak


def leaf_hash(token_id: int, claim_key: str) -> bytes:
    return keccak(keccak(abi_encode(["uint256", "address"], [token_id, claim_key])))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class ClaimTree:
    """The tree over one batch's leaves; `root` goes on chain, `proof(i)` goes with each claim."""

    def __init__(self, leaves: Sequence[tuple[int, str]]) -> None:
        if not leaves:
            raise ValueError("a claim tree needs at least one leaf")
        self._index = {token_id: i for i, (token_id, _) in enumerate(leaves)}
        level = [leaf_hash(t, k) for t, k in leaves]
        self._levels = [level]
        while len(level) > 1:
            level = [_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
            self._levels.append(level)

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    def proof(self, token_id: int) -> list[bytes]:
        i = self._index[token_id]
        proof: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            i //= 2
        return proof


def verify(proof: Sequence[bytes], root: bytes, token_id: int, claim_key: str) -> bool:
    node = leaf_hash(token_id, claim_key)
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root
