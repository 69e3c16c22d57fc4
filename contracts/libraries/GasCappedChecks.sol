// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

/**
 * @title GasCappedChecks
 * @notice OpenZeppelin's `SignatureChecker.isValidSignatureNowCalldata` and
 * `ERC721Utils.checkOnERC721Received`, but the contract asked (an ERC-1271 wallet, an ERC-721
 * receiver) gets a fixed gas stipend instead of all the gas left.
 *
 * Why: in a relayed call the relayer pays for every unit of gas, and OpenZeppelin's helpers forward
 * all of it (63/64 of what is left), so a wallet whose `isValidSignature` or `onERC721Received` burns
 * all the gas it is given makes every relayed call cost the relayer the whole transaction gas limit.
 * With a stipend the relayer's cost is bounded by the stipend whatever the other contract does.
 *
 * Both checks copy at most 32 bytes of the answer (no `returndatacopy` of the whole return data), so
 * a contract cannot charge the caller for a huge answer either. When less than 64/63 of the stipend
 * is left, the contract asked gets less (EIP-150); the check then fails and the caller reverts, so a
 * relayer that sends too little gas only wastes its own transaction.
 */
library GasCappedChecks {
    /**
     * @dev Whether `signature` is `signer`'s over `hash`: ECDSA when `signer` has no code (an EOA),
     * else ERC-1271 `isValidSignature` called with at most `gasStipend` gas. A wallet that reverts,
     * runs out of gas, or answers anything but the ERC-1271 magic value gives false.
     */
    function isValidSignatureNowCalldata(
        address signer,
        bytes32 hash,
        bytes calldata signature,
        uint256 gasStipend
    ) internal view returns (bool result) {
        if (signer.code.length == 0) {
            (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(hash, signature);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        bytes4 selector = IERC1271.isValidSignature.selector;
        uint256 length = signature.length;
        assembly ("memory-safe") {
            // Calldata `isValidSignature(hash, signature)`, built past the free memory pointer
            // (scratch, never allocated): selector, hash, offset 0x40, length, data, zero padding.
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), hash)
            mstore(add(ptr, 0x24), 0x40)
            mstore(add(ptr, 0x44), length)
            calldatacopy(add(ptr, 0x64), signature.offset, length)
            mstore(add(add(ptr, 0x64), length), 0)
            length := shl(5, shr(5, add(length, 0x1F)))
            // At most `gasStipend` gas, and only the first 32 bytes of the answer are copied.
            let success := staticcall(gasStipend, signer, ptr, add(length, 0x64), 0x00, 0x20)
            result := and(success, and(gt(returndatasize(), 0x1f), eq(mload(0x00), selector)))
        }
    }

    /**
     * @dev ERC-721 acceptance check of a transfer to `to` with empty data: a no-op when `to` has no
     * code, else `onERC721Received(operator, from, tokenId, "")` called with at most `gasStipend`
     * gas. Reverts with `ERC721InvalidReceiver(to)` when the receiver reverts (its reason is not
     * passed on), runs out of gas, or answers anything but the `onERC721Received` selector.
     */
    function checkOnERC721Received(
        address operator,
        address from,
        address to,
        uint256 tokenId,
        uint256 gasStipend
    ) internal {
        if (to.code.length == 0) return;
        bytes4 selector = IERC721Receiver.onERC721Received.selector;
        bool accepted;
        assembly ("memory-safe") {
            // Calldata `onERC721Received(operator, from, tokenId, "")`, built past the free memory
            // pointer: selector, operator, from, tokenId, offset 0x80 of `data`, its length 0.
            // Addresses are masked: Solidity does not promise clean upper bits in assembly.
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), shr(96, shl(96, operator)))
            mstore(add(ptr, 0x24), shr(96, shl(96, from)))
            mstore(add(ptr, 0x44), tokenId)
            mstore(add(ptr, 0x64), 0x80)
            mstore(add(ptr, 0x84), 0)
            let success := call(gasStipend, to, 0, ptr, 0xa4, 0x00, 0x20)
            accepted := and(success, and(gt(returndatasize(), 0x1f), eq(mload(0x00), selector)))
        }
        if (!accepted) revert IERC721Errors.ERC721InvalidReceiver(to);
    }
}
