// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";
import {CidV1} from "../libraries/CidV1.sol";

/**
 * @title TwinmarkCollectionBrandActions
 * @notice What the brand's minters do to twins they do not own: mark a twin stolen on evidence or
 * recovered, and replace a twin's content anchor (ERC-4906); refused while the brand is suspended
 * or its keys are compromised.
 */
abstract contract TwinmarkCollectionBrandActions is TwinmarkCollectionBase {
    /**
     * @notice The brand marks a twin stolen on evidence, or recovered (`None`).
     * @param tokenId The twin.
     * @param status `Stolen` or `None`; it must differ from the current status.
     */
    function setStatusByBrand(uint256 tokenId, Status status) external onlyActiveMinter {
        (, uint256 state) = _materialize(tokenId);
        Status current = Status(_statusOf(state));
        if (status == current || status == Status.Lost) {
            revert TwinmarkCollectionInvalidStatusChange(tokenId, current, status);
        }
        _writeStatus(tokenId, state, status);
    }

    /**
     * @notice Replaces a twin's content anchor after repair or re-authentication (ERC-4906).
     * @param tokenId The twin.
     * @param cid Binary CIDv1 (raw or dag-pb, sha2-256) of the new metadata file;
     * `tokenURI` becomes `ipfs://{cid}`.
     */
    function updateContent(uint256 tokenId, bytes calldata cid) external onlyActiveMinter {
        (bool ok, uint8 codec, bytes32 digest) = CidV1.tryDecode(cid);
        if (!ok) revert TwinmarkCollectionInvalidCid();
        (, uint256 state) = _materialize(tokenId);
        state |= _FLAG_CONTENT;
        state = codec == CidV1.CODEC_RAW ? state | _FLAG_CONTENT_RAW : state & ~_FLAG_CONTENT_RAW;
        _tokenState[tokenId] = state;
        _contentDigests[tokenId] = digest;
        emit ContentUpdated(tokenId, cid, msg.sender);
        emit MetadataUpdate(tokenId);
    }
}
