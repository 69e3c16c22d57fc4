// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {ITwinmarkCollection} from "./interfaces/ITwinmarkCollection.sol";
import {ITwinmarkRegistry} from "./interfaces/ITwinmarkRegistry.sol";

/**
 * @title TwinmarkRegistry
 * @notice Root of trust of a Twinmark deployment: which brands exist, who administers each, which
 * collections are genuine (deployed here as EIP-1167 clones of one implementation), whether a brand
 * is suspended, and the time windows in which a brand's signing keys were compromised.
 *
 * The owner is the operator. The operator registers, suspends and flags brands; a brand admin
 * creates its own collections and hands over its admin role.
 */
contract TwinmarkRegistry is ITwinmarkRegistry, Ownable2Step {
    /// @notice A brand's record.
    struct Brand {
        address admin;
        uint40 registeredAt;
        bool suspended;
        string name;
    }

    /// @notice Keys compromised from `start` until `end` (0 while still open), in block time.
    struct CompromiseWindow {
        uint64 start;
        uint64 end;
    }

    /**
     * @notice What a verifier needs about one twin, read in one call.
     * @dev `brandId`: 0 when the collection is not one of this registry's (nothing else is set);
     * `exists`: the twin is minted and not destroyed (then `twin` is set); `burned`: it was destroyed.
     */
    struct TwinReport {
        uint256 brandId;
        Brand brand;
        CompromiseWindow[] compromises;
        bool exists;
        bool burned;
        ITwinmarkCollection.Twin twin;
    }

    /// @notice A collection's transfer policy at creation; see {ITwinmarkCollection-TransferPolicy}.
    struct TransferRules {
        ITwinmarkCollection.TransferPolicy policy;
        uint32 senderHold;
        uint32 recipientHold;
    }

    /// @notice Collections a brand may own; bounds the loop that mirrors brand flags into them.
    uint256 public constant MAX_COLLECTIONS_PER_BRAND = 32;

    uint8 private constant _FLAG_SUSPENDED = 1;
    uint8 private constant _FLAG_COMPROMISED = 2;

    /// @notice The collection implementation every clone delegates to.
    address public immutable collectionImplementation;

    uint256 private _brandCount;
    mapping(uint256 brandId => Brand) private _brands;
    mapping(uint256 brandId => address[]) private _collections;
    mapping(uint256 brandId => CompromiseWindow[]) private _compromises;
    mapping(address collection => uint256 brandId) private _brandOf;

    /// @notice A brand was registered.
    event BrandRegistered(uint256 indexed brandId, address indexed admin, string name);
    /// @notice A brand's admin changed.
    event BrandAdminChanged(uint256 indexed brandId, address indexed previousAdmin, address indexed newAdmin);
    /// @notice A brand was suspended or reinstated.
    event BrandSuspensionChanged(uint256 indexed brandId, bool suspended);
    /// @notice A brand's keys were declared compromised from `start`.
    event BrandCompromised(uint256 indexed brandId, uint64 start);
    /// @notice A brand's open compromise window was closed at `end` (new keys in place).
    event BrandCompromiseResolved(uint256 indexed brandId, uint64 end);
    /// @notice A genuine collection was created for a brand.
    event CollectionCreated(uint256 indexed brandId, address indexed collection, string name, string symbol);

    error TwinmarkRegistryUnknownBrand(uint256 brandId);
    error TwinmarkRegistryUnauthorized(address account);
    error TwinmarkRegistryInvalidAdmin(address admin);
    error TwinmarkRegistryTooManyCollections(uint256 brandId);
    error TwinmarkRegistryInvalidCompromiseStart(uint256 start);
    error TwinmarkRegistryCompromiseOpen(uint256 brandId);
    error TwinmarkRegistryNoOpenCompromise(uint256 brandId);

    /**
     * @param operator The operator (owner) of this deployment.
     * @param implementation A deployed {TwinmarkCollection} whose initializers are disabled.
     */
    constructor(address operator, address implementation) Ownable(operator) {
        collectionImplementation = implementation;
    }

    modifier knownBrand(uint256 brandId) {
        if (brandId == 0 || brandId > _brandCount) revert TwinmarkRegistryUnknownBrand(brandId);
        _;
    }

    modifier onlyOperatorOrAdmin(uint256 brandId) {
        if (msg.sender != owner() && msg.sender != _brands[brandId].admin) {
            revert TwinmarkRegistryUnauthorized(msg.sender);
        }
        _;
    }

    // ---------------------------------------------------------------- operator

    /// @notice Registers a brand administered by `admin`; returns its id (from 1).
    function registerBrand(address admin, string calldata name) external onlyOwner returns (uint256 brandId) {
        if (admin == address(0)) revert TwinmarkRegistryInvalidAdmin(admin);
        brandId = ++_brandCount;
        _brands[brandId] = Brand(admin, uint40(block.timestamp), false, name);
        emit BrandRegistered(brandId, admin, name);
    }

    /// @notice Suspends (no minting in any of its collections) or reinstates a brand.
    function setBrandSuspended(uint256 brandId, bool suspended) external onlyOwner knownBrand(brandId) {
        _brands[brandId].suspended = suspended;
        emit BrandSuspensionChanged(brandId, suspended);
        _pushFlags(brandId);
    }

    /**
     * @notice Declares the brand's signing keys compromised from `start` (at most now): twins minted
     * from then on fail verification, and minting stops until {resolveCompromise}.
     */
    function markCompromised(uint256 brandId, uint64 start) external onlyOwner knownBrand(brandId) {
        if (start > block.timestamp || start == 0) revert TwinmarkRegistryInvalidCompromiseStart(start);
        CompromiseWindow[] storage windows = _compromises[brandId];
        uint256 count = windows.length;
        if (count != 0 && windows[count - 1].end == 0) revert TwinmarkRegistryCompromiseOpen(brandId);
        windows.push(CompromiseWindow(start, 0));
        emit BrandCompromised(brandId, start);
        _pushFlags(brandId);
    }

    /// @notice Closes the brand's open compromise window now, once its keys have been replaced.
    function resolveCompromise(uint256 brandId) external onlyOwner knownBrand(brandId) {
        CompromiseWindow[] storage windows = _compromises[brandId];
        uint256 count = windows.length;
        if (count == 0 || windows[count - 1].end != 0) revert TwinmarkRegistryNoOpenCompromise(brandId);
        uint64 end = uint64(block.timestamp);
        windows[count - 1].end = end;
        emit BrandCompromiseResolved(brandId, end);
        _pushFlags(brandId);
    }

    // ---------------------------------------------------------------- operator or brand admin

    /// @notice Hands the brand's admin role to `newAdmin`; by the operator (recovery) or the admin.
    function setBrandAdmin(
        uint256 brandId,
        address newAdmin
    ) external knownBrand(brandId) onlyOperatorOrAdmin(brandId) {
        if (newAdmin == address(0)) revert TwinmarkRegistryInvalidAdmin(newAdmin);
        address previous = _brands[brandId].admin;
        _brands[brandId].admin = newAdmin;
        emit BrandAdminChanged(brandId, previous, newAdmin);
    }

    /**
     * @notice Deploys a genuine collection for `brandId` as an EIP-1167 clone, with an open transfer
     * policy.
     * @param brandId The brand.
     * @param name ERC-721 name.
     * @param symbol ERC-721 symbol.
     * @param contractURI ERC-7572 collection metadata URI.
     * @param royaltyReceiver ERC-2981 receiver, or address(0) for no royalty.
     * @param royaltyBps Royalty in basis points (at most 10,000).
     * @param initialMinter Account allowed to mint from the start, or address(0).
     * @return collection The new collection.
     */
    function createCollection(
        uint256 brandId,
        string calldata name,
        string calldata symbol,
        string calldata contractURI,
        address royaltyReceiver,
        uint96 royaltyBps,
        address initialMinter
    ) external knownBrand(brandId) onlyOperatorOrAdmin(brandId) returns (address collection) {
        collection = _createCollection(brandId, name, symbol, contractURI, royaltyReceiver, royaltyBps, initialMinter);
    }

    /**
     * @notice Deploys a genuine collection for `brandId` under transfer policy `policy` from its first
     * twin, without royalty (a collection whose twins are not sold on has no resale to take one from).
     * The brand's admin can later make the policy stricter, never looser.
     * @param brandId The brand.
     * @param name ERC-721 name.
     * @param symbol ERC-721 symbol.
     * @param contractURI ERC-7572 collection metadata URI.
     * @param initialMinter Account allowed to mint from the start, or address(0).
     * @param rules The policy (`Open`, `GiftOnly` or `Locked`) and, for GiftOnly, the seconds a claimant
     * or first buyer holds before gifting and a gift's recipient holds before gifting on (else 0).
     * @return collection The new collection.
     */
    function createCollectionWithPolicy(
        uint256 brandId,
        string calldata name,
        string calldata symbol,
        string calldata contractURI,
        address initialMinter,
        TransferRules calldata rules
    ) external knownBrand(brandId) onlyOperatorOrAdmin(brandId) returns (address collection) {
        collection = _createCollection(brandId, name, symbol, contractURI, address(0), 0, initialMinter);
        // An open policy with no holding periods is what `initialize` left; anything else must be stricter.
        if (rules.policy != ITwinmarkCollection.TransferPolicy.Open || rules.senderHold | rules.recipientHold != 0) {
            ITwinmarkCollection(collection).setTransferPolicy(rules.policy, rules.senderHold, rules.recipientHold);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITwinmarkRegistry
    function brandAdmin(uint256 brandId) external view returns (address) {
        return _brands[brandId].admin;
    }

    /// @inheritdoc ITwinmarkRegistry
    function brandOf(address collection) external view returns (uint256) {
        return _brandOf[collection];
    }

    /// @notice Whether `collection` was deployed by this registry.
    function isGenuine(address collection) external view returns (bool) {
        return _brandOf[collection] != 0;
    }

    /// @notice Number of registered brands; ids run from 1 to this.
    function brandCount() external view returns (uint256) {
        return _brandCount;
    }

    /// @notice A brand's record.
    function brand(uint256 brandId) external view knownBrand(brandId) returns (Brand memory) {
        return _brands[brandId];
    }

    /// @notice A brand's genuine collections, in creation order.
    function collectionsOf(uint256 brandId) external view returns (address[] memory) {
        return _collections[brandId];
    }

    /// @notice A brand's compromise windows, oldest first.
    function compromiseWindows(uint256 brandId) external view returns (CompromiseWindow[] memory) {
        return _compromises[brandId];
    }

    /**
     * @notice Everything a verification reads from the chain about one twin, in one call: whether the
     * collection is genuine, its brand's record and compromise windows, and the twin (or whether it
     * was destroyed).
     * @param collection The collection the twin claims to belong to.
     * @param tokenId The twin.
     * @return report The brand, its compromise windows and the twin; see `TwinReport`.
     */
    function twinReport(address collection, uint256 tokenId) external view returns (TwinReport memory report) {
        uint256 brandId = _brandOf[collection];
        if (brandId == 0) return report;
        report.brandId = brandId;
        report.brand = _brands[brandId];
        report.compromises = _compromises[brandId];
        // A genuine collection runs this registry's implementation: its reverts mean "no such twin".
        try ITwinmarkCollection(collection).twin(tokenId) returns (ITwinmarkCollection.Twin memory t) {
            report.exists = true;
            report.twin = t;
        } catch {
            report.burned = ITwinmarkCollection(collection).isBurned(tokenId);
        }
    }

    /// @notice Whether the brand's keys were compromised at block time `timestamp`.
    function isCompromisedAt(uint256 brandId, uint256 timestamp) external view returns (bool) {
        CompromiseWindow[] storage windows = _compromises[brandId];
        for (uint256 i; i < windows.length; ++i) {
            CompromiseWindow memory w = windows[i];
            if (timestamp >= w.start && (w.end == 0 || timestamp < w.end)) return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Clones, records and initialises a collection for `brandId`, then mirrors the brand's flags.
    function _createCollection(
        uint256 brandId,
        string calldata name,
        string calldata symbol,
        string calldata contractURI,
        address royaltyReceiver,
        uint96 royaltyBps,
        address initialMinter
    ) private returns (address collection) {
        if (_collections[brandId].length >= MAX_COLLECTIONS_PER_BRAND) {
            revert TwinmarkRegistryTooManyCollections(brandId);
        }
        collection = Clones.clone(collectionImplementation);
        _brandOf[collection] = brandId;
        _collections[brandId].push(collection);
        emit CollectionCreated(brandId, collection, name, symbol);
        ITwinmarkCollection(collection).initialize(
            brandId,
            name,
            symbol,
            contractURI,
            royaltyReceiver,
            royaltyBps,
            initialMinter
        );
        uint8 flags = _flagsOf(brandId);
        if (flags != 0) ITwinmarkCollection(collection).setBrandFlags(flags);
    }

    function _flagsOf(uint256 brandId) private view returns (uint8 flags) {
        if (_brands[brandId].suspended) flags |= _FLAG_SUSPENDED;
        CompromiseWindow[] storage windows = _compromises[brandId];
        if (windows.length != 0 && windows[windows.length - 1].end == 0) flags |= _FLAG_COMPROMISED;
    }

    /// @dev Mirrors the brand's flags into its collections so a mint checks them with one local read.
    function _pushFlags(uint256 brandId) private {
        uint8 flags = _flagsOf(brandId);
        address[] storage collections = _collections[brandId];
        for (uint256 i; i < collections.length; ++i) {
            ITwinmarkCollection(collections[i]).setBrandFlags(flags);
        }
    }
}
