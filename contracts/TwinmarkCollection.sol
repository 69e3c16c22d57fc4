// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ITwinmarkCollection} from "./interfaces/ITwinmarkCollection.sol";
import {TwinmarkCollectionAdmin} from "./collection/TwinmarkCollectionAdmin.sol";
import {TwinmarkCollectionMinting} from "./collection/TwinmarkCollectionMinting.sol";
import {TwinmarkCollectionClaims} from "./collection/TwinmarkCollectionClaims.sol";
import {TwinmarkCollectionOwnerActions} from "./collection/TwinmarkCollectionOwnerActions.sol";
import {TwinmarkCollectionBrandActions} from "./collection/TwinmarkCollectionBrandActions.sol";
import {TwinmarkCollectionRecords} from "./collection/TwinmarkCollectionRecords.sol";
import {TwinmarkCollectionViews} from "./collection/TwinmarkCollectionViews.sol";
import {TwinmarkCollectionTransferPolicy} from "./collection/TwinmarkCollectionTransferPolicy.sol";

/**
 * @title TwinmarkCollection
 * @notice One brand's ERC-721 collection of digital twins, deployed by {TwinmarkRegistry} as an
 * EIP-1167 clone. Minters of the brand mint batch-anchored twins; buyers claim them with a secret
 * shipped with the item; owners transfer and report status by EIP-712 signature through any
 * relayer; authorised service providers append service records.
 *
 * Trust: the registry is the root of trust (it says which collections are genuine and who
 * administers a brand). The brand admin manages minters, service providers, royalty and the
 * collection URI. Minters mint, replace a twin's content, link twins and mark twins stolen or
 * recovered, none of it while the registry reports the brand suspended or its keys compromised.
 * Owners transfer, report lost or stolen, and burn. Nobody else moves a twin, and only as far as the
 * collection's transfer policy (open, gift-only after holding periods, or locked) allows. A relayed call gives
 * the contracts it asks (ERC-1271 wallets, ERC-721 receivers) fixed gas stipends, so no owner can
 * make the relayer pay more than those.
 *
 * @dev Composes one abstract contract per concern (`contracts/collection/`), all sharing the
 * storage of the ERC-721 core and {TwinmarkCollectionBase} (which also answers ERC-165); this
 * contract adds only what the registry calls: the one-time set-up and the brand's flags.
 */
contract TwinmarkCollection is
    TwinmarkCollectionAdmin,
    TwinmarkCollectionMinting,
    TwinmarkCollectionClaims,
    TwinmarkCollectionOwnerActions,
    TwinmarkCollectionBrandActions,
    TwinmarkCollectionRecords,
    TwinmarkCollectionViews,
    TwinmarkCollectionTransferPolicy,
    Initializable
{
    constructor() EIP712("Twinmark", "1") {
        // The implementation itself is never used as a collection.
        _disableInitializers();
    }

    /// @inheritdoc ITwinmarkCollection
    function initialize(
        uint256 brandId_,
        string calldata name_,
        string calldata symbol_,
        string calldata contractURI_,
        address royaltyReceiver,
        uint96 royaltyBps,
        address initialMinter
    ) external initializer {
        _registryAddress = msg.sender;
        _brandId = uint64(brandId_);
        _name = name_;
        _symbol = symbol_;
        _contractURI = contractURI_;
        _nextBatchId = 1;
        if (royaltyReceiver != address(0)) _setDefaultRoyalty(royaltyReceiver, royaltyBps);
        if (initialMinter != address(0)) {
            _roles[initialMinter] = _ROLE_MINTER;
            emit MinterSet(initialMinter, true);
        }
    }

    /// @inheritdoc ITwinmarkCollection
    function setBrandFlags(uint8 flags) external {
        if (msg.sender != _registryAddress) revert TwinmarkCollectionUnauthorized(msg.sender);
        _brandFlags = flags;
        emit BrandFlagsChanged(flags);
    }
}
