// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TwinmarkCollectionBase} from "./TwinmarkCollectionBase.sol";

/**
 * @title TwinmarkCollectionTransferPolicy
 * @notice The collection's transfer policy ({ITwinmarkCollection-TransferPolicy}), checked on every
 * move of a twin: `transferFrom` and `safeTransferFrom` (by the owner, an approved account or an
 * operator), `transferBySig` (EOA, ERC-1271 and passkey owners alike) and `claim` all end in the
 * ERC-721 core's `_move`, which asks {_admitMove}. Burns are not moves and stay allowed.
 *
 * Under `GiftOnly` a twin's slot records when its owner got it and how (claim or the brand's own
 * delivery, else a gift), so the holding period that applies is the current policy's, never the one
 * in force when the twin arrived. A claim is never refused (it is how a twin leaves the brand's
 * custody) and starts the sender's holding period; so does the brand custodian's delivery of a twin
 * nobody claimed or gifted yet (the first sale). Under `Locked` only claims move twins, and
 * approvals are refused so that no marketplace can list one.
 */
abstract contract TwinmarkCollectionTransferPolicy is TwinmarkCollectionBase {
    /**
     * @notice Makes the transfer policy stricter; see {ITwinmarkCollection-setTransferPolicy}.
     * @dev Looser is refused because buyers bought under the promise the policy makes: a brand that
     * could later open a gift-only collection would have sold a "no resale" twin that turns into a
     * tradeable one (and a compliance promise into a broken one).
     * @param policy The new policy.
     * @param senderHold Seconds a claimant or the first buyer holds before gifting (GiftOnly; else 0).
     * @param recipientHold Seconds a gift's recipient holds before gifting on (GiftOnly; else 0).
     */
    function setTransferPolicy(TransferPolicy policy, uint32 senderHold, uint32 recipientHold) external {
        if (msg.sender != _registryAddress && msg.sender != _registry().brandAdmin(_brandId)) {
            revert TwinmarkCollectionUnauthorized(msg.sender);
        }
        TransferPolicy current = _transferPolicy;
        bool holdsFit = policy == TransferPolicy.GiftOnly || (senderHold == 0 && recipientHold == 0);
        bool stricter = policy > current ||
            (policy == TransferPolicy.GiftOnly &&
                current == TransferPolicy.GiftOnly &&
                senderHold >= _senderHold &&
                recipientHold >= _recipientHold);
        if (!holdsFit || !stricter) revert TwinmarkCollectionPolicyNotStricter(current, policy);
        _transferPolicy = policy;
        _senderHold = senderHold;
        _recipientHold = recipientHold;
        emit TransferPolicyChanged(policy, senderHold, recipientHold);
    }

    /**
     * @notice The collection's transfer policy and holding periods.
     * @return policy `Open`, `GiftOnly` or `Locked`.
     * @return senderHold Seconds a claimant or the first buyer holds a twin before it may gift it.
     * @return recipientHold Seconds the recipient of a gift holds it before it may gift it on.
     */
    function transferPolicy() external view returns (TransferPolicy policy, uint32 senderHold, uint32 recipientHold) {
        return (_transferPolicy, _senderHold, _recipientHold);
    }

    /**
     * @notice The earliest block time at which the owner of `tokenId` may hand it on: 0 when it may
     * now whatever the time (open collection, or the brand's first delivery), `type(uint256).max`
     * when never (locked collection; a claim still moves an unclaimed twin out of custody).
     * @param tokenId The twin; reverts for an unknown or burned twin.
     * @return The block time from which a transfer by its owner is accepted.
     */
    function movableFrom(uint256 tokenId) external view returns (uint256) {
        (address owner, uint256 state) = _ownerAndState(tokenId);
        TransferPolicy policy = _transferPolicy;
        if (policy == TransferPolicy.Open) return 0;
        if (policy == TransferPolicy.Locked) return type(uint256).max;
        if (_isFirstDelivery(owner, tokenId, state)) return 0;
        return _giftableFrom(state);
    }

    /// @dev Enforces the policy for the ERC-721 core's `_move`; see {TwinmarkERC721-_admitMove}.
    function _admitMove(
        address from,
        uint256 tokenId,
        uint256 state,
        uint256 extraFlags
    ) internal view override returns (uint256 giftedFlag) {
        // Claims pass under every policy, before the policy is read: they cost nothing more.
        if (extraFlags & _FLAG_CLAIMED != 0) return 0;
        TransferPolicy policy = _transferPolicy;
        if (policy == TransferPolicy.Open) return _FLAG_GIFTED;
        if (policy == TransferPolicy.Locked) revert TwinmarkCollectionTransferRestricted(tokenId, type(uint256).max);
        if (_isFirstDelivery(from, tokenId, state)) return 0;
        uint256 giftable = _giftableFrom(state);
        if (block.timestamp < giftable) revert TwinmarkCollectionTransferRestricted(tokenId, giftable);
        return _FLAG_GIFTED;
    }

    /// @dev Under `Locked` no approval is granted: it could never be used, and would only let a twin be listed.
    function _checkApprovalsAllowed() internal view override {
        if (_transferPolicy == TransferPolicy.Locked) revert TwinmarkCollectionApprovalsLocked();
    }

    /// @dev The brand custodian handing on a twin nobody claimed or was gifted yet: the first sale.
    function _isFirstDelivery(address owner, uint256 tokenId, uint256 state) private view returns (bool) {
        return state & (_FLAG_CLAIMED | _FLAG_GIFTED) == 0 && owner == _batches[tokenId / ID_STRIDE].custodian;
    }

    /// @dev Held since (bits 224-255) plus the holding period for how its owner got it.
    function _giftableFrom(uint256 state) private view returns (uint256) {
        uint256 hold = state & _FLAG_GIFTED != 0 ? _recipientHold : _senderHold;
        return (state >> _HELD_SHIFT) + hold;
    }
}
