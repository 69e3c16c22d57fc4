// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";
import {GasCappedChecks} from "../libraries/GasCappedChecks.sol";

/**
 * @title TwinmarkCollectionOwnerActions
 * @notice What an owner does with its twin beyond ERC-721: transfer and report status by EIP-712
 * signature through any relayer (EOAs by ECDSA, contract wallets by ERC-1271), report status
 * directly, and burn.
 *
 * Every signature is bound to the token's nonce, which increases with every transfer and signed
 * action, so replays and a previous owner's pending signatures die. The relayer pays for the whole
 * call, so the other contracts a relayed call asks get fixed gas stipends: a contract owner's
 * ERC-1271 check {ERC1271_GAS_STIPEND}, a contract recipient's `onERC721Received`
 * {RECEIVER_GAS_STIPEND}.
 */
abstract contract TwinmarkCollectionOwnerActions is TwinmarkCollectionBase {
    /// @notice EIP-712 type of a gasless transfer, signed by the owner.
    bytes32 public constant TRANSFER_TYPEHASH =
        keccak256("TransferTwin(address to,uint256 tokenId,uint256 nonce,uint256 deadline)");
    /// @notice EIP-712 type of a status report, signed by the owner.
    bytes32 public constant STATUS_TYPEHASH =
        keccak256("ReportStatus(uint256 tokenId,uint8 status,uint256 nonce,uint256 deadline)");

    /**
     * @notice Transfers `tokenId` to `to` on the owner's EIP-712 signature; anyone may relay it.
     * @dev A contract owner's ERC-1271 check gets {ERC1271_GAS_STIPEND} gas, a contract recipient's
     * `onERC721Received` (called like `safeTransferFrom` does, with empty data) {RECEIVER_GAS_STIPEND};
     * a recipient that reverts, runs out of it or answers anything else reverts the transfer with
     * `ERC721InvalidReceiver`.
     * @param to The recipient.
     * @param tokenId The twin.
     * @param nonce The token's current nonce ({twin}); it increases with every transfer.
     * @param deadline Last block time at which the signature is valid.
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
        // safeTransferFrom's receiver check (a no-op for accounts without code), with a gas stipend.
        GasCappedChecks.checkOnERC721Received(msg.sender, owner, to, tokenId, RECEIVER_GAS_STIPEND);
    }

    /**
     * @notice The owner reports its twin lost or stolen, or found again after reporting it lost.
     * @param tokenId The twin.
     * @param status `Lost` or `Stolen`, or `None` to clear the owner's own `Lost` report.
     */
    function reportStatus(uint256 tokenId, Status status) external {
        (address owner, uint256 state) = _materialize(tokenId);
        if (msg.sender != owner) revert TwinmarkCollectionUnauthorized(msg.sender);
        _setOwnerStatus(tokenId, state, status);
    }

    /**
     * @notice {reportStatus} on the owner's EIP-712 signature; anyone may relay it.
     * @dev A contract owner's ERC-1271 check gets {ERC1271_GAS_STIPEND} gas.
     * @param tokenId The twin.
     * @param status `Lost` or `Stolen`, or `None` to clear the owner's own `Lost` report.
     * @param nonce The token's current nonce ({twin}); the report increases it.
     * @param deadline Last block time at which the signature is valid.
     * @param signature ECDSA signature of an EOA owner, or ERC-1271 signature of a contract owner.
     */
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

    /**
     * @notice The owner (or an approved operator) destroys its twin; the record stays in events.
     * @param tokenId The twin; a stolen twin cannot be burned.
     */
    function burn(uint256 tokenId) external {
        (address owner, uint256 state) = _ownerAndState(tokenId);
        if (msg.sender != owner && !isApprovedForAll(owner, msg.sender) && getApproved(tokenId) != msg.sender) {
            revert ERC721InsufficientApproval(msg.sender, tokenId);
        }
        _burn(owner, tokenId, state);
    }

    /**
     * @dev Reverts unless `signature` is the owner's, over `structHash`, before `deadline`, with the
     * token's nonce: ECDSA for an owner without code, else ERC-1271 within {ERC1271_GAS_STIPEND} gas.
     */
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
        bytes32 digest = _hashTypedDataV4(structHash);
        if (!GasCappedChecks.isValidSignatureNowCalldata(owner, digest, signature, ERC1271_GAS_STIPEND)) {
            revert TwinmarkCollectionInvalidSignature();
        }
    }

    /// @dev Applies an owner's status report (`state` has the owner field filled in).
    function _setOwnerStatus(uint256 tokenId, uint256 state, Status status) private {
        Status current = Status(_statusOf(state));
        // Owners report Lost or Stolen and clear a Lost report; only the brand clears Stolen.
        bool allowed = current != Status.Stolen && (status == Status.None ? current == Status.Lost : status != current);
        if (!allowed) revert TwinmarkCollectionInvalidStatusChange(tokenId, current, status);
        _writeStatus(tokenId, state, status);
    }
}
