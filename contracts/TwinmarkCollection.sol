// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {TwinmarkERC721} from "./TwinmarkERC721.sol";
import {ITwinmarkCollection} from "./interfaces/ITwinmarkCollection.sol";
import {ITwinmarkRegistry} from "./interfaces/ITwinmarkRegistry.sol";
import {CidV1} from "./libraries/CidV1.sol";

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
 * recovered. Owners transfer, report lost or stolen, and burn. Nobody else moves a twin.
 */
contract TwinmarkCollection is TwinmarkERC721, ITwinmarkCollection, IERC721Metadata, IERC4906, ERC2981, EIP712, Initializable {
    /// @notice Status of a twin.
    enum Status {
        None,
        Lost,
        Stolen
    }

    /// @notice Everything the chain knows about one twin, for verifiers.
    struct Twin {
        address owner;
        uint256 batchId;
        Kind kind;
        Status status;
        bool claimed;
        bool claimable;
        uint256 nonce;
        uint256 mintedAt;
        address custodian;
        string uri;
    }

    uint8 private constant _BRAND_SUSPENDED = 1;
    uint8 private constant _BRAND_COMPROMISED = 2;
    uint8 private constant _ROLE_MINTER = 1;
    uint8 private constant _ROLE_PROVIDER = 2;

    /// @notice EIP-712 type of a claim, signed by the claim key derived from the item's secret.
    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(uint256 tokenId,address to,uint256 deadline)");
    /// @notice EIP-712 type of a gasless transfer, signed by the owner.
    bytes32 public constant TRANSFER_TYPEHASH =
        keccak256("TransferTwin(address to,uint256 tokenId,uint256 nonce,uint256 deadline)");
    /// @notice EIP-712 type of a status report, signed by the owner.
    bytes32 public constant STATUS_TYPEHASH =
        keccak256("ReportStatus(uint256 tokenId,uint8 status,uint256 nonce,uint256 deadline)");
    /// @notice EIP-712 type of a service record, signed by an authorised provider.
    bytes32 public constant SERVICE_RECORD_TYPEHASH =
        keccak256("ServiceRecord(uint256 tokenId,bytes32 recordCidHash,uint256 nonce,uint256 deadline)");

    uint64 private _brandId;
    mapping(address account => uint8) private _roles;
    mapping(uint256 tokenId => bytes32) private _contentDigests;
    mapping(uint256 tokenId => uint256) private _links; // physical token id << 160 | collection
    mapping(address provider => uint256) private _providerNonces;
    string private _name;
    string private _symbol;
    string private _contractURI;

    /// @notice A batch was minted; its tokens are `batchId * 10_000 + 1 .. batchId * 10_000 + size`.
    event BatchMinted(
        uint256 indexed batchId,
        address indexed minter,
        address indexed custodian,
        uint256 size,
        Kind kind,
        bytes32 anchor,
        bytes32 claimRoot
    );
    /// @notice A twin left the brand's custody through a claim (the recipient is in the Transfer).
    event Claimed(uint256 indexed tokenId);
    /// @notice A twin's status changed.
    event StatusChanged(uint256 indexed tokenId, Status status, address indexed by);
    /// @notice A twin's content anchor was replaced; the previous anchor is in earlier events.
    event ContentUpdated(uint256 indexed tokenId, bytes cid, address indexed by);
    /// @notice An authorised provider appended a service record to a twin's history.
    event ServiceRecorded(uint256 indexed tokenId, address indexed provider, bytes recordCid);
    /// @notice A virtual twin was linked to its physical counterpart (address(0) unlinks).
    event TwinLinked(uint256 indexed tokenId, address indexed physicalCollection, uint256 physicalTokenId);
    /// @notice A minter's authorisation changed.
    event MinterSet(address indexed account, bool allowed);
    /// @notice A service provider's authorisation changed.
    event ServiceProviderSet(address indexed account, bool allowed);
    /// @notice The brand's standing, mirrored from the registry, changed.
    event BrandFlagsChanged(uint8 flags);
    /// @notice ERC-7572: the collection-level metadata changed.
    event ContractURIUpdated();

    error TwinmarkCollectionUnauthorized(address account);
    error TwinmarkCollectionBrandSuspended(uint256 brandId);
    error TwinmarkCollectionBrandCompromised(uint256 brandId);
    error TwinmarkCollectionInvalidBatchSize(uint256 size);
    error TwinmarkCollectionUnexpectedBatchId(uint256 expected, uint256 given);
    error TwinmarkCollectionInvalidAnchor();
    error TwinmarkCollectionInvalidCid();
    error TwinmarkCollectionExpiredSignature(uint256 deadline);
    error TwinmarkCollectionInvalidNonce(uint256 expected, uint256 given);
    error TwinmarkCollectionInvalidSignature();
    error TwinmarkCollectionNotClaimable(uint256 tokenId);
    error TwinmarkCollectionAlreadyClaimed(uint256 tokenId);
    error TwinmarkCollectionNotInCustody(uint256 tokenId);
    error TwinmarkCollectionInvalidClaimProof(uint256 tokenId);
    error TwinmarkCollectionInvalidStatusChange(uint256 tokenId, Status from, Status to);
    error TwinmarkCollectionInvalidLink(uint256 tokenId);

    modifier onlyBrandAdmin() {
        if (msg.sender != _registry().brandAdmin(_brandId)) revert TwinmarkCollectionUnauthorized(msg.sender);
        _;
    }

    modifier onlyRole(uint8 role) {
        if (_roles[msg.sender] & role == 0) revert TwinmarkCollectionUnauthorized(msg.sender);
        _;
    }

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

    // ---------------------------------------------------------------- brand administration

    /// @notice Allows or revokes `account` as a minter (mint, content update, link, brand status).
    function setMinter(address account, bool allowed) external onlyBrandAdmin {
        _setRole(account, _ROLE_MINTER, allowed);
        emit MinterSet(account, allowed);
    }

    /// @notice Allows or revokes `account` as a service provider (append service records).
    function setServiceProvider(address account, bool allowed) external onlyBrandAdmin {
        _setRole(account, _ROLE_PROVIDER, allowed);
        emit ServiceProviderSet(account, allowed);
    }

    /// @notice Sets the ERC-2981 royalty for every twin: `bps` basis points to `receiver`.
    function setRoyalty(address receiver, uint96 bps) external onlyBrandAdmin {
        _setDefaultRoyalty(receiver, bps);
    }

    /// @notice Sets the ERC-7572 collection metadata URI.
    function setContractURI(string calldata uri) external onlyBrandAdmin {
        _contractURI = uri;
        emit ContractURIUpdated();
    }

    // ---------------------------------------------------------------- minting

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
    ) external onlyRole(_ROLE_MINTER) returns (uint256 firstTokenId) {
        uint8 flags = _brandFlags;
        if (flags & _BRAND_SUSPENDED != 0) revert TwinmarkCollectionBrandSuspended(_brandId);
        if (flags & _BRAND_COMPROMISED != 0) revert TwinmarkCollectionBrandCompromised(_brandId);
        if (batchId != _nextBatchId) revert TwinmarkCollectionUnexpectedBatchId(_nextBatchId, batchId);
        if (size == 0 || size > MAX_BATCH_SIZE) revert TwinmarkCollectionInvalidBatchSize(size);
        if (anchor == bytes32(0)) revert TwinmarkCollectionInvalidAnchor();
        firstTokenId = _mintBatch(batchId, custodian, size, kind, anchor, claimRoot);
        emit BatchMinted(batchId, msg.sender, custodian, size, kind, anchor, claimRoot);
    }

    // ---------------------------------------------------------------- claims

    /**
     * @notice Moves an unclaimed twin from the brand's custody to `to`. Anyone may relay it.
     * @dev The claim key (an address derived from the secret shipped with the item) signs
     * `Claim(tokenId, to, deadline)`, so a copied claim cannot be redirected to another recipient.
     * @param r,vs The claim key's ERC-2098 compact signature.
     * @param proof Merkle proof of the leaf `(tokenId, claimKey)` under the batch's claim root.
     */
    function claim(
        uint256 tokenId,
        address to,
        uint256 deadline,
        bytes32 r,
        bytes32 vs,
        bytes32[] calldata proof
    ) external {
        if (block.timestamp > deadline) revert TwinmarkCollectionExpiredSignature(deadline);
        (address owner, uint256 state) = _ownerAndState(tokenId);
        if (state & _FLAG_CLAIMED != 0) revert TwinmarkCollectionAlreadyClaimed(tokenId);
        uint256 batchId = tokenId / ID_STRIDE;
        bytes32 root = _claimRoots[batchId];
        if (root == bytes32(0)) revert TwinmarkCollectionNotClaimable(tokenId);
        // An untouched token (owner field zero) is by definition still with the batch custodian.
        if (address(uint160(state)) != address(0) && owner != _batches[batchId].custodian) {
            revert TwinmarkCollectionNotInCustody(tokenId);
        }
        address claimKey = ECDSA.recover(
            _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, tokenId, to, deadline))),
            r,
            vs
        );
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(tokenId, claimKey))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert TwinmarkCollectionInvalidClaimProof(tokenId);
        _move(owner, to, tokenId, state, _FLAG_CLAIMED);
        emit Claimed(tokenId);
    }

    // ---------------------------------------------------------------- signed owner actions

    /**
     * @notice Transfers `tokenId` to `to` on the owner's EIP-712 signature; anyone may relay it.
     * @param nonce The token's current nonce ({twin}); it increases with every transfer.
     * @param signature ECDSA signature of an EOA owner, or ERC-1271 signature of a contract owner.
     */
    function transferBySig(
        address to,
        uint256 tokenId,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        (address owner, uint256 state) = _ownerAndState(tokenId);
        bytes32 structHash = keccak256(abi.encode(TRANSFER_TYPEHASH, to, tokenId, nonce, deadline));
        _checkOwnerSignature(owner, state, nonce, deadline, structHash, signature);
        _move(owner, to, tokenId, state, 0);
        // Same receiver check as safeTransferFrom (a no-op for accounts without code).
        ERC721Utils.checkOnERC721Received(msg.sender, owner, to, tokenId, "");
    }

    /// @notice The owner reports its twin lost or stolen, or found again after reporting it lost.
    function reportStatus(uint256 tokenId, Status status) external {
        (address owner, uint256 state) = _materialize(tokenId);
        if (msg.sender != owner) revert TwinmarkCollectionUnauthorized(msg.sender);
        _setOwnerStatus(tokenId, state, status);
    }

    /// @notice {reportStatus} on the owner's EIP-712 signature; anyone may relay it.
    function reportStatusBySig(
        uint256 tokenId,
        Status status,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        (address owner, uint256 state) = _materialize(tokenId);
        bytes32 structHash = keccak256(abi.encode(STATUS_TYPEHASH, tokenId, uint8(status), nonce, deadline));
        _checkOwnerSignature(owner, state, nonce, deadline, structHash, signature);
        _setOwnerStatus(tokenId, _bumpNonce(state), status);
    }

    /// @notice The owner (or an approved operator) destroys its twin; the record stays in events.
    function burn(uint256 tokenId) external {
        (address owner, uint256 state) = _ownerAndState(tokenId);
        if (msg.sender != owner && !isApprovedForAll(owner, msg.sender) && getApproved(tokenId) != msg.sender) {
            revert ERC721InsufficientApproval(msg.sender, tokenId);
        }
        _burn(owner, tokenId, state);
    }

    // ---------------------------------------------------------------- brand actions on twins

    /// @notice The brand marks a twin stolen on evidence, or recovered (`None`).
    function setStatusByBrand(uint256 tokenId, Status status) external onlyRole(_ROLE_MINTER) {
        (, uint256 state) = _materialize(tokenId);
        Status current = Status(_statusOf(state));
        if (status == current || status == Status.Lost) {
            revert TwinmarkCollectionInvalidStatusChange(tokenId, current, status);
        }
        _writeStatus(tokenId, state, status);
    }

    /**
     * @notice Replaces a twin's content anchor after repair or re-authentication (ERC-4906).
     * @param cid Binary CIDv1 (raw or dag-pb, sha2-256) of the new metadata file;
     * `tokenURI` becomes `ipfs://{cid}`.
     */
    function updateContent(uint256 tokenId, bytes calldata cid) external onlyRole(_ROLE_MINTER) {
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

    /// @notice An authorised service provider appends a record (the CIDv1 of its document).
    function recordService(uint256 tokenId, bytes calldata recordCid) external onlyRole(_ROLE_PROVIDER) {
        _recordService(tokenId, msg.sender, recordCid);
    }

    /**
     * @notice {recordService} on the provider's EIP-712 signature; anyone may relay it, so providers
     * need no gas. `nonce` is the provider's current {providerNonce}.
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
        if (!SignatureChecker.isValidSignatureNowCalldata(provider, _hashTypedDataV4(structHash), signature)) {
            revert TwinmarkCollectionInvalidSignature();
        }
        _providerNonces[provider] = expected + 1;
        _recordService(tokenId, provider, recordCid);
    }

    /// @notice The nonce the next signed service record of `provider` must carry.
    function providerNonce(address provider) external view returns (uint256) {
        return _providerNonces[provider];
    }

    /**
     * @notice Links virtual twin `tokenId` to its physical counterpart in a genuine collection of
     * the same brand; `physicalCollection = address(0)` removes the link.
     */
    function linkPhysical(
        uint256 tokenId,
        address physicalCollection,
        uint256 physicalTokenId
    ) external onlyRole(_ROLE_MINTER) {
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

    // ---------------------------------------------------------------- views

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

    /// @notice ERC-7572 collection metadata URI.
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    /// @inheritdoc ITwinmarkCollection
    function kindOf(uint256 tokenId) public view returns (Kind) {
        _ownerAndState(tokenId);
        return _batches[tokenId / ID_STRIDE].kind;
    }

    /// @notice Everything the chain says about `tokenId`; reverts for unknown or destroyed twins.
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

    /// @notice Whether `tokenId` was ever minted and has since been destroyed.
    function isBurned(uint256 tokenId) external view returns (bool) {
        return _tokenState[tokenId] & _FLAG_BURNED != 0;
    }

    /// @notice A batch's record: custodian, size, kind, mint time, content anchor and claim root.
    function batch(uint256 batchId) external view returns (Batch memory b, bytes32 anchor, bytes32 claimRoot) {
        return (_batches[batchId], _batchAnchors[batchId], _claimRoots[batchId]);
    }

    /// @notice The physical twin a virtual twin is linked to, or (address(0), 0).
    function linkOf(uint256 tokenId) external view returns (address collection, uint256 physicalTokenId) {
        uint256 link = _links[tokenId];
        return (address(uint160(link)), link >> 160);
    }

    /// @notice The registry that deployed this collection and the brand that owns it.
    function brand() external view returns (address registry, uint256 brandId, uint8 flags) {
        return (_registryAddress, _brandId, _brandFlags);
    }

    /// @notice Whether `account` may mint and act for the brand on twins.
    function isMinter(address account) external view returns (bool) {
        return _roles[account] & _ROLE_MINTER != 0;
    }

    /// @notice Whether `account` may append service records.
    function isServiceProvider(address account) external view returns (bool) {
        return _roles[account] & _ROLE_PROVIDER != 0;
    }

    /// @inheritdoc IERC165
    function supportsInterface(
        bytes4 interfaceId
    ) public view override(TwinmarkERC721, ERC2981, IERC165) returns (bool) {
        return
            interfaceId == type(IERC721Metadata).interfaceId ||
            interfaceId == bytes4(0x49064906) || // ERC-4906
            ERC2981.supportsInterface(interfaceId) ||
            TwinmarkERC721.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- internals

    function _registry() private view returns (ITwinmarkRegistry) {
        return ITwinmarkRegistry(_registryAddress);
    }

    function _setRole(address account, uint8 role, bool allowed) private {
        _roles[account] = allowed ? _roles[account] | role : _roles[account] & ~role;
    }

    function _checkOwnerSignature(
        address owner,
        uint256 state,
        uint256 nonce,
        uint256 deadline,
        bytes32 structHash,
        bytes calldata signature
    ) private view {
        if (block.timestamp > deadline) revert TwinmarkCollectionExpiredSignature(deadline);
        uint256 expected = _nonceOf(state);
        if (nonce != expected) revert TwinmarkCollectionInvalidNonce(expected, nonce);
        if (!SignatureChecker.isValidSignatureNowCalldata(owner, _hashTypedDataV4(structHash), signature)) {
            revert TwinmarkCollectionInvalidSignature();
        }
    }

    function _recordService(uint256 tokenId, address provider, bytes calldata recordCid) private {
        (bool ok, , ) = CidV1.tryDecode(recordCid);
        if (!ok) revert TwinmarkCollectionInvalidCid();
        _ownerAndState(tokenId); // reverts for unknown or destroyed twins
        emit ServiceRecorded(tokenId, provider, recordCid);
    }

    function _setOwnerStatus(uint256 tokenId, uint256 state, Status status) private {
        Status current = Status(_statusOf(state));
        // Owners report Lost or Stolen and clear a Lost report; only the brand clears Stolen.
        bool allowed = current != Status.Stolen && (status == Status.None ? current == Status.Lost : status != current);
        if (!allowed) revert TwinmarkCollectionInvalidStatusChange(tokenId, current, status);
        _writeStatus(tokenId, state, status);
    }

    function _writeStatus(uint256 tokenId, uint256 state, Status status) private {
        _tokenState[tokenId] = (state & ~(uint256(0xff) << _STATUS_SHIFT)) | (uint256(status) << _STATUS_SHIFT);
        emit StatusChanged(tokenId, status, msg.sender);
    }
}
