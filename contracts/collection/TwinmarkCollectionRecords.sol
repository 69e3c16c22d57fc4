// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";
import {ITwinmarkCollection} from "../interfaces/ITwinmarkCollection.sol";
import {CidV1} from "../libraries/CidV1.sol";
import {GasCappedChecks} from "../libraries/GasCappedChecks.sol";

/**
 * @title TwinmarkCollectionRecords
 * @notice A twin's history beyond ownership: service records appended by authorised providers
 * (directly or by EIP-712 signature through any relayer), and the link from a virtual twin to its
 * physical counterpart.
 */
abstract contract TwinmarkCollectionRecords is TwinmarkCollectionBase {
    /// @notice EIP-712 type of a service record, signed by an authorised provider.
    bytes32 public constant SERVICE_RECORD_TYPEHASH =
        keccak256("ServiceRecord(uint256 tokenId,bytes32 recordCidHash,uint256 nonce,uint256 deadline)");

    /**
     * @notice An authorised service provider appends a record (the CIDv1 of its document).
     * @param tokenId The twin.
     * @param recordCid Binary CIDv1 (raw or dag-pb, sha2-256) of the record document.
     */
    function recordService(uint256 tokenId, bytes calldata recordCid) external onlyCollectionRole(_ROLE_PROVIDER) {
        _recordService(tokenId, msg.sender, recordCid);
    }

    /**
     * @notice {recordService} on the provider's EIP-712 signature; anyone may relay it, so providers
     * need no gas.
     * @dev A contract provider's ERC-1271 check gets {ERC1271_GAS_STIPEND} gas.
     * @param tokenId The twin.
     * @param recordCid Binary CIDv1 (raw or dag-pb, sha2-256) of the record document.
     * @param provider The authorised service provider that signed the record.
     * @param nonce The provider's current {providerNonce}; the record increases it.
     * @param deadline Last block time at which the signature is valid.
     * @param signature ECDSA signature of an EOA provider, or ERC-1271 signature of a contract provider.
     */
    function recordServiceBySig(
        uint256 tokenId,
        bytes calldata recordCid,
        address provider,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (_roles[provider] & _ROLE_PROVIDER == 0) revert TwinmarkCollectionUnauthorized(provider);
        if (block.timestamp > deadline) revert TwinmarkCollectionExpiredSignature(deadline);
        uint256 expected = _providerNonces[provider];
        if (nonce != expected) revert TwinmarkCollectionInvalidNonce(expected, nonce);
        bytes32 structHash = keccak256(
            abi.encode(SERVICE_RECORD_TYPEHASH, tokenId, keccak256(recordCid), nonce, deadline)
        );
        bytes32 digest = _hashTypedDataV4(structHash);
        if (!GasCappedChecks.isValidSignatureNowCalldata(provider, digest, signature, ERC1271_GAS_STIPEND)) {
            revert TwinmarkCollectionInvalidSignature();
        }
        _providerNonces[provider] = expected + 1;
        _recordService(tokenId, provider, recordCid);
    }

    /**
     * @notice The nonce the next signed service record of `provider` must carry.
     * @param provider The service provider.
     * @return The nonce.
     */
    function providerNonce(address provider) external view returns (uint256) {
        return _providerNonces[provider];
    }

    /**
     * @notice Links virtual twin `tokenId` to its physical counterpart in a genuine collection of
     * the same brand; `physicalCollection = address(0)` removes the link.
     * @param tokenId The virtual twin.
     * @param physicalCollection A genuine collection of the same brand, or address(0) to unlink.
     * @param physicalTokenId A physical twin of `physicalCollection` (below 2^96).
     */
    function linkPhysical(
        uint256 tokenId,
        address physicalCollection,
        uint256 physicalTokenId
    ) external onlyActiveMinter {
        if (kindOf(tokenId) != Kind.Virtual) revert TwinmarkCollectionInvalidLink(tokenId);
        if (physicalCollection == address(0)) {
            delete _links[tokenId];
        } else {
            if (
                _registry().brandOf(physicalCollection) != _brandId ||
                ITwinmarkCollection(physicalCollection).kindOf(physicalTokenId) != Kind.Physical ||
                physicalTokenId >= 1 << 96
            ) revert TwinmarkCollectionInvalidLink(tokenId);
            _links[tokenId] = (physicalTokenId << 160) | uint160(physicalCollection);
        }
        emit TwinLinked(tokenId, physicalCollection, physicalTokenId);
    }

    /**
     * @notice The physical twin a virtual twin is linked to, or (address(0), 0).
     * @param tokenId The virtual twin.
     * @return collection The physical twin's collection.
     * @return physicalTokenId The physical twin's token id.
     */
    function linkOf(uint256 tokenId) external view returns (address collection, uint256 physicalTokenId) {
        uint256 link = _links[tokenId];
        return (address(uint160(link)), link >> 160);
    }

    /// @dev Checks the record's CID and that the twin exists, then emits {ServiceRecorded}.
    function _recordService(uint256 tokenId, address provider, bytes calldata recordCid) private {
        (bool ok, , ) = CidV1.tryDecode(recordCid);
        if (!ok) revert TwinmarkCollectionInvalidCid();
        _ownerAndState(tokenId); // reverts for unknown or destroyed twins
        emit ServiceRecorded(tokenId, provider, recordCid);
    }
}
