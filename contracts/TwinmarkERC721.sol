// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {ITwinmarkCollection} from "./interfaces/ITwinmarkCollection.sol";

/**
 * @title TwinmarkERC721
 * @notice ERC-721 core with batch-anchored, lazily written ownership.
 *
 * Token ids encode their batch: `tokenId = batchId * 10_000 + index` with `index` in `1..size`, so
 * batch 3, item 42 is token 30042 and finding a token's batch is one division. A batch costs three
 * storage slots whatever its size; a token gets its own slot only when something happens to it
 * (transfer, claim, status, content update, burn). Until then its owner is the batch's custodian.
 *
 * Each token slot packs: owner (bits 0-159), status (160-167), flags (168-175), a per-token
 * nonce (176-223) that increases with every transfer and every signed action, which both kills
 * pending signatures of a previous owner and clears the single-token approval, and the block time
 * its owner got it (224-255, "held since", read by the collection's transfer policy).
 */
abstract contract TwinmarkERC721 is IERC721, IERC721Errors {
    /// @notice Token id stride between batches; larger than the largest batch (4,096).
    uint256 public constant ID_STRIDE = 10_000;
    /// @notice The largest batch: a UnixFS directory of this many entries stays a single block.
    uint256 public constant MAX_BATCH_SIZE = 4096;

    struct Batch {
        address custodian; // owner of every token of the batch until the token moves
        uint16 size;
        ITwinmarkCollection.Kind kind;
        uint40 mintedAt;
    }

    uint256 internal constant _OWNER_MASK = (1 << 160) - 1;
    uint256 internal constant _STATUS_SHIFT = 160;
    uint256 internal constant _FLAG_CLAIMED = 1 << 168;
    uint256 internal constant _FLAG_BURNED = 1 << 169;
    uint256 internal constant _FLAG_CONTENT = 1 << 170; // a per-token content anchor replaces the batch's
    uint256 internal constant _FLAG_CONTENT_RAW = 1 << 171; // that anchor's codec is raw (else dag-pb)
    uint256 internal constant _NONCE_SHIFT = 176;
    uint256 internal constant _NONCE_MAX = (1 << 48) - 1;
    uint256 internal constant _FLAG_GIFTED = 1 << 172; // its owner got it by transfer, not claim or delivery
    uint256 internal constant _HELD_SHIFT = 224;

    /// @dev A stolen twin cannot move (status value 2 of `ITwinmarkCollection.Status`).
    uint256 internal constant _STATUS_STOLEN = 2;

    bytes32 private constant _TRANSFER_EVENT_SIGNATURE =
        0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef;

    mapping(uint256 batchId => Batch) internal _batches;
    mapping(uint256 batchId => bytes32) internal _batchAnchors;
    mapping(uint256 batchId => bytes32) internal _claimRoots;
    mapping(uint256 tokenId => uint256) internal _tokenState;
    mapping(address owner => uint256) private _balances;
    // Approval is valid only while the token's nonce equals the one stored beside it.
    mapping(uint256 tokenId => uint256) private _tokenApprovals;
    mapping(address owner => mapping(address operator => bool)) private _operatorApprovals;

    // One slot read and written by every mint: the brand gate next to the counters a mint bumps.
    address internal _registryAddress;
    uint8 internal _brandFlags;
    uint40 internal _nextBatchId;
    uint48 internal _minted;
    uint64 internal _burned;

    /// @dev Raised when a stolen twin is asked to move.
    error TwinmarkERC721TwinStolen(uint256 tokenId);

    // ---------------------------------------------------------------- ERC-721 views

    /// @inheritdoc IERC721
    function balanceOf(address owner) public view returns (uint256) {
        if (owner == address(0)) revert ERC721InvalidOwner(address(0));
        return _balances[owner];
    }

    /// @inheritdoc IERC721
    function ownerOf(uint256 tokenId) public view returns (address owner) {
        (owner, ) = _ownerAndState(tokenId);
    }

    /// @inheritdoc IERC721
    function getApproved(uint256 tokenId) public view returns (address) {
        (, uint256 state) = _ownerAndState(tokenId);
        return _approvedFor(tokenId, state);
    }

    /// @inheritdoc IERC721
    function isApprovedForAll(address owner, address operator) public view returns (bool) {
        return _operatorApprovals[owner][operator];
    }

    /// @notice Twins in existence: minted minus burned.
    function totalSupply() external view returns (uint256) {
        return uint256(_minted) - _burned;
    }

    /// @notice Every twin ever minted, burned ones included.
    function totalMinted() external view returns (uint256) {
        return _minted;
    }

    /// @notice The id the next batch will get; a mint must name it, so a replayed mint reverts.
    function nextBatchId() external view returns (uint256) {
        return _nextBatchId;
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) public view virtual returns (bool) {
        return interfaceId == type(IERC721).interfaceId || interfaceId == type(IERC165).interfaceId;
    }

    // ---------------------------------------------------------------- ERC-721 actions

    /// @inheritdoc IERC721
    function approve(address to, uint256 tokenId) external {
        if (to != address(0)) _checkApprovalsAllowed();
        (address owner, uint256 state) = _ownerAndState(tokenId);
        if (msg.sender != owner && !_operatorApprovals[owner][msg.sender]) {
            revert ERC721InvalidApprover(msg.sender);
        }
        _tokenApprovals[tokenId] = uint256(uint160(to)) | (_nonceOf(state) << 160);
        emit Approval(owner, to, tokenId);
    }

    /// @inheritdoc IERC721
    function setApprovalForAll(address operator, bool approved) external {
        if (operator == address(0)) revert ERC721InvalidOperator(operator);
        if (approved) _checkApprovalsAllowed();
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    /// @inheritdoc IERC721
    function transferFrom(address from, address to, uint256 tokenId) public {
        (address owner, uint256 state) = _ownerAndState(tokenId);
        if (owner != from) revert ERC721IncorrectOwner(from, tokenId, owner);
        if (
            msg.sender != owner &&
            !_operatorApprovals[owner][msg.sender] &&
            _approvedFor(tokenId, state) != msg.sender
        ) revert ERC721InsufficientApproval(msg.sender, tokenId);
        _move(owner, to, tokenId, state, 0);
    }

    /// @inheritdoc IERC721
    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        safeTransferFrom(from, to, tokenId, "");
    }

    /**
     * @inheritdoc IERC721
     * @dev The receiver's `onERC721Received` gets all the gas left, as ERC-721 leaves it: the caller
     * pays. The relayed `transferBySig` gives it a fixed stipend instead.
     */
    function safeTransferFrom(address from, address to, uint256 tokenId, bytes memory data) public {
        transferFrom(from, to, tokenId);
        ERC721Utils.checkOnERC721Received(msg.sender, from, to, tokenId, data);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Owner and packed state of a live token; reverts with ERC721NonexistentToken otherwise.
    function _ownerAndState(uint256 tokenId) internal view returns (address owner, uint256 state) {
        state = _tokenState[tokenId];
        if (state & _FLAG_BURNED != 0) revert ERC721NonexistentToken(tokenId);
        owner = address(uint160(state));
        if (owner == address(0)) owner = _batchOf(tokenId).custodian;
    }

    /// @dev The batch of an existing (possibly burned) token id; reverts for ids never minted.
    function _batchOf(uint256 tokenId) internal view returns (Batch storage batch) {
        uint256 index = tokenId % ID_STRIDE;
        batch = _batches[tokenId / ID_STRIDE];
        if (index == 0 || index > batch.size) revert ERC721NonexistentToken(tokenId);
    }

    function _approvedFor(uint256 tokenId, uint256 state) private view returns (address) {
        uint256 approval = _tokenApprovals[tokenId];
        return (approval >> 160) == _nonceOf(state) ? address(uint160(approval)) : address(0);
    }

    function _nonceOf(uint256 state) internal pure returns (uint256) {
        return (state >> _NONCE_SHIFT) & _NONCE_MAX;
    }

    function _statusOf(uint256 state) internal pure returns (uint256) {
        return (state >> _STATUS_SHIFT) & 0xff;
    }

    /// @dev `state` with its nonce increased by one; wraps after 2^48 uses, which no token will reach.
    function _bumpNonce(uint256 state) internal pure returns (uint256) {
        uint256 nonce = (_nonceOf(state) + 1) & _NONCE_MAX;
        return (state & ~(_NONCE_MAX << _NONCE_SHIFT)) | (nonce << _NONCE_SHIFT);
    }

    /**
     * @dev Reverts unless the collection's transfer policy lets `tokenId` (owned by `from`, packed
     * `state`) move now; a claim passes `_FLAG_CLAIMED` in `extraFlags`. Returns the "gifted" flag
     * the new owner's slot gets (`_FLAG_GIFTED` or 0).
     */
    function _admitMove(
        address from,
        uint256 tokenId,
        uint256 state,
        uint256 extraFlags
    ) internal view virtual returns (uint256 giftedFlag);

    /// @dev Reverts when the collection's transfer policy refuses new approvals.
    function _checkApprovalsAllowed() internal view virtual;

    /**
     * @dev Moves `tokenId` from `from` (its owner, already checked) to `to`, adding `extraFlags`,
     * bumping the nonce, refusing stolen twins and moves the transfer policy forbids, and recording
     * when the new owner got it.
     */
    function _move(address from, address to, uint256 tokenId, uint256 state, uint256 extraFlags) internal {
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        if (_statusOf(state) == _STATUS_STOLEN) revert TwinmarkERC721TwinStolen(tokenId);
        uint256 gifted = _admitMove(from, tokenId, state, extraFlags);
        unchecked {
            // `from` owns this token, so its balance is at least 1; no balance can reach 2^256.
            _balances[from] -= 1;
            _balances[to] += 1;
        }
        // Held since now: block time fits 32 bits until 2106.
        uint256 kept = _bumpNonce(state) & ~(_OWNER_MASK | _FLAG_GIFTED | (type(uint256).max << _HELD_SHIFT));
        _tokenState[tokenId] =
            kept |
            uint256(uint160(to)) |
            extraFlags |
            gifted |
            (uint256(uint32(block.timestamp)) << _HELD_SHIFT);
        emit Transfer(from, to, tokenId);
    }

    /// @dev Burns `tokenId` owned by `owner`; the Transfer to address(0) stays as the record.
    function _burn(address owner, uint256 tokenId, uint256 state) internal {
        if (_statusOf(state) == _STATUS_STOLEN) revert TwinmarkERC721TwinStolen(tokenId);
        unchecked {
            // `owner` owns this token; `_burned` never exceeds `_minted`, a uint48.
            _balances[owner] -= 1;
            _burned += 1;
        }
        _tokenState[tokenId] = (_bumpNonce(state) & ~_OWNER_MASK) | _FLAG_BURNED;
        emit Transfer(owner, address(0), tokenId);
    }

    /// @dev Writes `state` with the owner field filled in, so per-token data can be added to it.
    function _materialize(uint256 tokenId) internal view returns (address owner, uint256 state) {
        (owner, state) = _ownerAndState(tokenId);
        state = (state & ~_OWNER_MASK) | uint256(uint160(owner));
    }

    /**
     * @dev Records batch `batchId` of `size` tokens held by `to` and emits one Transfer per token.
     * Callers check `size` (1..MAX_BATCH_SIZE) and `batchId` (the next id).
     */
    function _mintBatch(
        uint256 batchId,
        address to,
        uint256 size,
        ITwinmarkCollection.Kind kind,
        bytes32 anchor,
        bytes32 claimRoot
    ) internal returns (uint256 firstTokenId) {
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        _batches[batchId] = Batch(to, uint16(size), kind, uint40(block.timestamp));
        _batchAnchors[batchId] = anchor;
        if (claimRoot != bytes32(0)) _claimRoots[batchId] = claimRoot;
        _minted += uint48(size); // checked: 2^48 twins is the collection's hard limit
        _nextBatchId = uint40(batchId + 1);
        unchecked {
            // size <= 4096, batch ids < 2^40 and balances never exceed `_minted`: no overflow.
            _balances[to] += size;
            firstTokenId = batchId * ID_STRIDE + 1;
        }
        uint256 end = firstTokenId + size;
        // One Transfer event per token is the whole per-token cost of a batch mint.
        assembly ("memory-safe") {
            for {
                let id := firstTokenId
            } lt(id, end) {
                id := add(id, 1)
            } {
                log4(0, 0, _TRANSFER_EVENT_SIGNATURE, 0, to, id)
            }
        }
    }
}
