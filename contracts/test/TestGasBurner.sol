// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title TestGasBurner
 * @notice A hostile contract wallet for tests: before answering `isValidSignature` (ERC-1271) or
 * `onERC721Received`, it burns `burn` gas, or every unit it is given when `burn` is
 * `type(uint256).max` (the answer is then never reached). Its answers are otherwise a well-behaved
 * wallet's: a signature is valid when its EOA `signer` signed the hash; every token is accepted.
 * It makes a relayer pay for the gas it burns. Test-only.
 */
contract TestGasBurner is IERC1271, IERC721Receiver {
    address public immutable signer;
    uint256 public immutable burn;

    constructor(address signer_, uint256 burn_) {
        signer = signer_;
        burn = burn_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        _burnGas();
        (address recovered, , ) = ECDSA.tryRecoverCalldata(hash, signature);
        return recovered == signer ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }

    /// @inheritdoc IERC721Receiver
    function onERC721Received(address, address, uint256, bytes calldata) external view returns (bytes4) {
        _burnGas();
        return IERC721Receiver.onERC721Received.selector;
    }

    /// @dev Spins until `burn` gas is spent (`gasleft()` only decreases, so the difference cannot underflow).
    function _burnGas() private view {
        uint256 start = gasleft();
        while (start - gasleft() < burn) {}
    }
}
