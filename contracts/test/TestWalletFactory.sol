// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TestContractWallet} from "./TestContractWallet.sol";

/**
 * @title TestWalletFactory
 * @notice Deploys TestContractWallets at CREATE2 addresses known before deployment: the
 * counterfactual wallets EIP-6492 signatures come from. Test-only.
 */
contract TestWalletFactory {
    function deploy(address signer, bytes32 salt) external returns (address) {
        return address(new TestContractWallet{salt: salt}(signer));
    }

    function addressOf(address signer, bytes32 salt) external view returns (address) {
        bytes32 code = keccak256(abi.encodePacked(type(TestContractWallet).creationCode, abi.encode(signer)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, code)))));
    }
}
