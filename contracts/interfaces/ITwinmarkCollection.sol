// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice What the registry and sibling collections ask of a Twinmark collection.
interface ITwinmarkCollection {
    /// @notice What a twin stands for.
    enum Kind {
        Physical,
        Virtual
    }

    /// @notice Sets up a freshly cloned collection; callable once, by the registry that cloned it.
    function initialize(
        uint256 brandId,
        string calldata name_,
        string calldata symbol_,
        string calldata contractURI_,
        address royaltyReceiver,
        uint96 royaltyBps,
        address initialMinter
    ) external;

    /// @notice Mirrors the brand's standing in the registry (bit 0: suspended, bit 1: compromised).
    function setBrandFlags(uint8 flags) external;

    /// @notice The kind recorded by the batch of `tokenId`; reverts for an unknown or burned token.
    function kindOf(uint256 tokenId) external view returns (Kind);
}
