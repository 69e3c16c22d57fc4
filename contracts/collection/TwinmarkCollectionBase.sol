// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {TwinmarkERC721} from "../TwinmarkERC721.sol";
import {ITwinmarkCollection} from "../interfaces/ITwinmarkCollection.sol";
import {ITwinmarkRegistry} from "../interfaces/ITwinmarkRegistry.sol";

/**
 * @title TwinmarkCollectionBase
 * @notice State shared by every concern of a {TwinmarkCollection}, the role gate, the helpers more
 * than one concern uses, and the collection's ERC-165 answers.
 *
 * @dev Storage layout. Every concern contract inherits this one and declares no state variable, so
 * the collection's storage is, in order: the ERC-721 core ({TwinmarkERC721}, slots 0-8), {ERC2981}
 * (9-10), {EIP712}'s fallback strings (11-12), then the variables below (13-20; `_brandId` and the
 * transfer policy share slot 13). {Initializable}
 * keeps its state in an ERC-7201 namespace. Do not reorder the bases or the variables: a clone's
 * gas figures depend on this packing.
 */
abstract contract TwinmarkCollectionBase is
    TwinmarkERC721,
    ITwinmarkCollection,
    IERC721Metadata,
    IERC4906,
    ERC2981,
    EIP712
{
    /**
     * @notice Gas given to a contract wallet's ERC-1271 `isValidSignature` when it signs a relayed
     * {transferBySig}, {reportStatusBySig} or {recordServiceBySig}. A wallet that needs more (or
     * reverts, or answers anything else) is refused with {TwinmarkCollectionInvalidSignature}.
     * @dev 100,000 bounds what a wallet can make the relayer pay, and covers real wallets with a wide
     * margin: a Safe multisig through its proxy and fallback handler (an `ecrecover` and a cold storage
     * read, about 5,000-6,000 gas, per owner signature), modular ERC-4337 accounts, passkey wallets
     * where the P-256 precompile exists. It does not cover P-256 verified in Solidity (200,000 gas or
     * more): such a wallet is refused here, and can still act directly, paying its own gas.
     */
    uint256 public constant ERC1271_GAS_STIPEND = 100_000;

    /**
     * @notice Gas given to the recipient's `onERC721Received` in {transferBySig}. A receiver that
     * needs more (or reverts, or answers anything else) makes the transfer revert with
     * `ERC721InvalidReceiver`. Plain `safeTransferFrom` is not capped (ERC-721 fixes no gas for the
     * hook, and its sender pays).
     * @dev 50,000: accepting a token is answering a selector (OpenZeppelin's `ERC721Holder` uses under
     * 1,000 gas; a Safe or ERC-4337 account through its proxy and fallback handler about 10,000), with
     * room left for a receiver that records the deposit in a fresh storage slot (22,100 gas).
     */
    uint256 public constant RECEIVER_GAS_STIPEND = 50_000;

    uint8 internal constant _ROLE_MINTER = 1;
    uint8 internal constant _ROLE_PROVIDER = 2;
    /// @dev Bits of `_brandFlags`, as the registry pushes them.
    uint8 internal constant _BRAND_SUSPENDED = 1;
    uint8 internal constant _BRAND_COMPROMISED = 2;

    uint64 internal _brandId;
    // Packed beside `_brandId` (one slot): a transfer reads the policy with one storage read.
    TransferPolicy internal _transferPolicy;
    uint32 internal _senderHold;
    uint32 internal _recipientHold;
    mapping(address account => uint8) internal _roles;
    mapping(uint256 tokenId => bytes32) internal _contentDigests;
    mapping(uint256 tokenId => uint256) internal _links; // physical token id << 160 | collection
    mapping(address provider => uint256) internal _providerNonces;
    string internal _name;
    string internal _symbol;
    string internal _contractURI;

    /**
     * @dev Only an account holding collection role `role` (`_ROLE_MINTER` or `_ROLE_PROVIDER`). Not
     * OpenZeppelin's `AccessControl.onlyRole(bytes32)`: roles here are bits of one byte per account.
     */
    modifier onlyCollectionRole(uint8 role) {
        if (_roles[msg.sender] & role == 0) revert TwinmarkCollectionUnauthorized(msg.sender);
        _;
    }

    /**
     * @dev Only a minter of this collection, and only while its brand is in good standing: every minter
     * action (mint, content update, brand status, link) goes through it. A brand suspended by the
     * operator, or whose keys are marked compromised, cannot act on its twins until reinstated or
     * resolved (the registry's flags, mirrored in `_brandFlags`).
     */
    modifier onlyActiveMinter() {
        _checkActiveMinter();
        _;
    }

    /// @inheritdoc ITwinmarkCollection
    /// @dev Implemented by {TwinmarkCollectionViews}; declared here so other concerns can call it.
    function kindOf(uint256 tokenId) public view virtual override returns (Kind);

    /**
     * @inheritdoc IERC165
     * @dev ERC-165, ERC-721, ERC-721 metadata ({TwinmarkCollectionViews}), ERC-2981 and ERC-4906
     * ({TwinmarkCollectionBrandActions}). It is answered here, where both implementations it merges
     * ({TwinmarkERC721} and {ERC2981}) meet, so that every concern contract compiles on its own.
     */
    function supportsInterface(
        bytes4 interfaceId
    ) public view override(TwinmarkERC721, ERC2981, IERC165) returns (bool) {
        return
            interfaceId == type(IERC721Metadata).interfaceId ||
            interfaceId == bytes4(0x49064906) || // ERC-4906
            ERC2981.supportsInterface(interfaceId) ||
            TwinmarkERC721.supportsInterface(interfaceId);
    }

    /// @dev Reverts unless the caller is a minter and the brand is neither suspended nor compromised.
    function _checkActiveMinter() internal view {
        if (_roles[msg.sender] & _ROLE_MINTER == 0) revert TwinmarkCollectionUnauthorized(msg.sender);
        uint8 flags = _brandFlags;
        if (flags & _BRAND_SUSPENDED != 0) revert TwinmarkCollectionBrandSuspended(_brandId);
        if (flags & _BRAND_COMPROMISED != 0) revert TwinmarkCollectionBrandCompromised(_brandId);
    }

    /// @dev The registry that deployed this collection.
    function _registry() internal view returns (ITwinmarkRegistry) {
        return ITwinmarkRegistry(_registryAddress);
    }

    /// @dev Writes `status` into the token's `state` (owner field filled in) and emits {StatusChanged}.
    function _writeStatus(uint256 tokenId, uint256 state, Status status) internal {
        _tokenState[tokenId] = (state & ~(uint256(0xff) << _STATUS_SHIFT)) | (uint256(status) << _STATUS_SHIFT);
        emit StatusChanged(tokenId, status, msg.sender);
    }
}
