// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";
import {ITwinmarkCollection} from "../interfaces/ITwinmarkCollection.sol";
import {CidV1} from "../libraries/CidV1.sol";

/**
 * @title TwinmarkCollectionViews
 * @notice ERC-721 metadata (name, symbol, `ipfs://` token URIs) and what verifiers read about
 * twins and batches.
 */
abstract contract TwinmarkCollectionViews is TwinmarkCollectionBase {
    /// @inheritdoc IERC721Metadata
    function name() external view returns (string memory) {
        return _name;
    }

    /// @inheritdoc IERC721Metadata
    function symbol() external view returns (string memory) {
        return _symbol;
    }

    /// @inheritdoc IERC721Metadata
    function tokenURI(uint256 tokenId) public view returns (string memory) {
        (, uint256 state) = _ownerAndState(tokenId);
        if (state & _FLAG_CONTENT != 0) {
            uint8 codec = state & _FLAG_CONTENT_RAW != 0 ? CidV1.CODEC_RAW : CidV1.CODEC_DAG_PB;
            return string.concat("ipfs://", CidV1.toString(codec, _contentDigests[tokenId]));
        }
        bytes32 anchor = _batchAnchors[tokenId / ID_STRIDE];
        return string.concat("ipfs://", CidV1.toString(CidV1.CODEC_DAG_PB, anchor), "/", Strings.toString(tokenId));
    }

    /// @inheritdoc ITwinmarkCollection
    function kindOf(uint256 tokenId) public view override returns (Kind) {
        _ownerAndState(tokenId);
        return _batches[tokenId / ID_STRIDE].kind;
    }

    /// @inheritdoc ITwinmarkCollection
    function twin(uint256 tokenId) external view returns (Twin memory t) {
        (address owner, uint256 state) = _ownerAndState(tokenId);
        uint256 batchId = tokenId / ID_STRIDE;
        Batch storage b = _batches[batchId];
        t.owner = owner;
        t.batchId = batchId;
        t.kind = b.kind;
        t.status = Status(_statusOf(state));
        t.claimed = state & _FLAG_CLAIMED != 0;
        t.claimable = !t.claimed && owner == b.custodian && _claimRoots[batchId] != bytes32(0);
        t.nonce = _nonceOf(state);
        t.mintedAt = b.mintedAt;
        t.custodian = b.custodian;
        t.uri = tokenURI(tokenId);
    }

    /// @inheritdoc ITwinmarkCollection
    function isBurned(uint256 tokenId) external view returns (bool) {
        return _tokenState[tokenId] & _FLAG_BURNED != 0;
    }

    /**
     * @notice A batch's record: custodian, size, kind, mint time, content anchor and claim root.
     * @param batchId The batch.
     * @return b Its custodian, size, kind and mint time (all zero for a batch never minted).
     * @return anchor Its content anchor.
     * @return claimRoot Its claim root, or zero when its twins are not claimable.
     */
    function batch(uint256 batchId) external view returns (Batch memory b, bytes32 anchor, bytes32 claimRoot) {
        return (_batches[batchId], _batchAnchors[batchId], _claimRoots[batchId]);
    }
}
