// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";

/**
 * @title TwinmarkCollectionMinting
 * @notice Batch minting by the brand's minters, refused (like every minter action) while the
 * registry reports the brand suspended or its keys compromised.
 */
abstract contract TwinmarkCollectionMinting is TwinmarkCollectionBase {
    /**
     * @notice Mints `size` twins to `custodian` with one content anchor.
     * @param batchId Must equal {nextBatchId}: a replayed or raced mint reverts instead of minting twice.
     * @param custodian Holds the twins until they are claimed or transferred.
     * @param size Number of twins, 1 to 4,096.
     * @param kind Physical good or virtual garment.
     * @param anchor sha2-256 digest of the dag-pb IPFS directory holding one metadata file per token
     * id; `tokenURI(id)` is `ipfs://{CIDv1 of that directory}/{id}`.
     * @param claimRoot Merkle root over `(tokenId, claimKey)` leaves, or zero for twins not claimable.
     * @return firstTokenId `batchId * 10_000 + 1`; the batch's ids are consecutive from there.
     */
    function mintBatch(
        uint256 batchId,
        address custodian,
        uint256 size,
        Kind kind,
        bytes32 anchor,
        bytes32 claimRoot
    ) external onlyActiveMinter returns (uint256 firstTokenId) {
        if (batchId != _nextBatchId) revert TwinmarkCollectionUnexpectedBatchId(_nextBatchId, batchId);
        if (size == 0 || size > MAX_BATCH_SIZE) revert TwinmarkCollectionInvalidBatchSize(size);
        if (anchor == bytes32(0)) revert TwinmarkCollectionInvalidAnchor();
        firstTokenId = _mintBatch(batchId, custodian, size, kind, anchor, claimRoot);
        emit BatchMinted(batchId, msg.sender, custodian, size, kind, anchor, claimRoot);
    }
}
