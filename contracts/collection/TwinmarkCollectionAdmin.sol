// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";

/**
 * @title TwinmarkCollectionAdmin
 * @notice Roles and brand administration: the brand admin (as recorded by the registry) grants and
 * revokes minters and service providers, and sets the ERC-2981 royalty and the ERC-7572 collection
 * URI.
 */
abstract contract TwinmarkCollectionAdmin is TwinmarkCollectionBase {
    /// @dev Only the brand's admin, as recorded by the registry.
    modifier onlyBrandAdmin() {
        if (msg.sender != _registry().brandAdmin(_brandId)) revert TwinmarkCollectionUnauthorized(msg.sender);
        _;
    }

    /**
     * @notice Allows or revokes `account` as a minter (mint, content update, link, brand status).
     * @param account The minter.
     * @param allowed Whether it may act as a minter from now on.
     */
    function setMinter(address account, bool allowed) external onlyBrandAdmin {
        _setRole(account, _ROLE_MINTER, allowed);
        emit MinterSet(account, allowed);
    }

    /**
     * @notice Allows or revokes `account` as a service provider (append service records).
     * @param account The service provider.
     * @param allowed Whether it may append service records from now on.
     */
    function setServiceProvider(address account, bool allowed) external onlyBrandAdmin {
        _setRole(account, _ROLE_PROVIDER, allowed);
        emit ServiceProviderSet(account, allowed);
    }

    /**
     * @notice Sets the ERC-2981 royalty for every twin: `bps` basis points to `receiver`.
     * @param receiver The royalty receiver.
     * @param bps The royalty in basis points of the sale price.
     */
    function setRoyalty(address receiver, uint96 bps) external onlyBrandAdmin {
        _setDefaultRoyalty(receiver, bps);
    }

    /**
     * @notice Sets the ERC-7572 collection metadata URI.
     * @param uri The new URI.
     */
    function setContractURI(string calldata uri) external onlyBrandAdmin {
        _contractURI = uri;
        emit ContractURIUpdated();
    }

    /**
     * @notice ERC-7572 collection metadata URI.
     * @return The URI.
     */
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    /**
     * @notice The registry that deployed this collection and the brand that owns it.
     * @return registry The registry.
     * @return brandId The brand.
     * @return flags The brand's standing mirrored from the registry (bit 0: suspended, bit 1: compromised).
     */
    function brand() external view returns (address registry, uint256 brandId, uint8 flags) {
        return (_registryAddress, _brandId, _brandFlags);
    }

    /**
     * @notice Whether `account` may mint and act for the brand on twins.
     * @param account The account.
     * @return Whether it is a minter.
     */
    function isMinter(address account) external view returns (bool) {
        return _roles[account] & _ROLE_MINTER != 0;
    }

    /**
     * @notice Whether `account` may append service records.
     * @param account The account.
     * @return Whether it is a service provider.
     */
    function isServiceProvider(address account) external view returns (bool) {
        return _roles[account] & _ROLE_PROVIDER != 0;
    }

    /// @dev Sets or clears the `role` bit of `account`, keeping its other role.
    function _setRole(address account, uint8 role, bool allowed) private {
        _roles[account] = allowed ? _roles[account] | role : _roles[account] & ~role;
    }
}
