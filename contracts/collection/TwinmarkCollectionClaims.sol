// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";

/**
 * @title TwinmarkCollectionClaims
 * @notice Claims: a twin of a claimable batch leaves the brand's custody once, to the recipient
 * signed for by the claim key derived from the secret shipped with the item.
 */
abstract contract TwinmarkCollectionClaims is TwinmarkCollectionBase {
    /// @notice EIP-712 type of a claim, signed by the claim key derived from the item's secret.
    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(uint256 tokenId,address to,uint256 deadline)");

    /**
     * @notice Moves an unclaimed twin from the brand's custody to `to`. Anyone may relay it.
     * @dev The claim key (an address derived from the secret shipped with the item) signs
     * `Claim(tokenId, to, deadline)`, so a copied claim cannot be redirected to another recipient.
     * @param tokenId The twin to claim.
     * @param to The recipient.
     * @param deadline Last block time at which the claim is valid.
     * @param r First half of the claim key's ERC-2098 compact signature.
     * @param vs Second half of the claim key's ERC-2098 compact signature.
     * @param proof Merkle proof of the leaf `(tokenId, claimKey)` under the batch's claim root.
     */
    function claim(
        uint256 tokenId,
        address to,
        uint256 deadline,
        bytes32 r,
        bytes32 vs,
        bytes32[] calldata proof
    ) external {
        if (block.timestamp > deadline) revert TwinmarkCollectionExpiredSignature(deadline);
        (address owner, uint256 state) = _ownerAndState(tokenId);
        if (state & _FLAG_CLAIMED != 0) revert TwinmarkCollectionAlreadyClaimed(tokenId);
        uint256 batchId = tokenId / ID_STRIDE;
        bytes32 root = _claimRoots[batchId];
        if (root == bytes32(0)) revert TwinmarkCollectionNotClaimable(tokenId);
        // An untouched token (owner field zero) is by definition still with the batch custodian.
        if (address(uint160(state)) != address(0) && owner != _batches[batchId].custodian) {
            revert TwinmarkCollectionNotInCustody(tokenId);
        }
        address claimKey = ECDSA.recover(
            _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, tokenId, to, deadline))),
            r,
            vs
        );
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(tokenId, claimKey))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert TwinmarkCollectionInvalidClaimProof(tokenId);
        _move(owner, to, tokenId, state, _FLAG_CLAIMED);
        emit Claimed(tokenId);
    }
}
