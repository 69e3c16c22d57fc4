// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";

/**
 * @title TestContractWallet
 * @notice A minimal ERC-1271 smart-contract wallet for tests: a signature is valid when its EOA
 * `signer` signed the hash. Receives ERC-721 tokens. Test-only.
 */
contract TestContractWallet is IERC1271, ERC721Holder {
    address public immutable signer;

    constructor(address signer_) {
        signer = signer_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, , ) = ECDSA.tryRecoverCalldata(hash, signature);
        return recovered == signer ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }
}
