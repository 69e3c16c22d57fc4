// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice What a Twinmark collection asks of the registry that deployed it.
interface ITwinmarkRegistry {
    /// @notice The address allowed to administer brand `brandId` (roles, royalty, contract URI).
    function brandAdmin(uint256 brandId) external view returns (address);

    /// @notice The brand that owns `collection`, or 0 when `collection` is not a genuine Twinmark collection.
    function brandOf(address collection) external view returns (uint256);
}
