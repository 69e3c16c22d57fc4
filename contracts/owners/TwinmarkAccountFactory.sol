// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {ERC7913WebAuthnVerifier} from "@openzeppelin/contracts/utils/cryptography/verifiers/ERC7913WebAuthnVerifier.sol";
import {TwinmarkPasskeyAccount} from "./TwinmarkPasskeyAccount.sol";

/**
 * @title TwinmarkAccountFactory
 * @notice Deploys {TwinmarkPasskeyAccount} clones at addresses derived from the first passkey's public
 * key alone, so a buyer owns an address before anything is deployed, and nobody can take that address
 * with another key.
 *
 * @dev The constructor deploys the WebAuthn verifier and the account implementation, so every address
 * follows from the factory's: deployed through the same CREATE2 deployer with the same bytes, the
 * factory gives the same account addresses on every chain. Never replace it: addresses already handed
 * out depend on it.
 */
contract TwinmarkAccountFactory {
    address private immutable _verifier;
    address private immutable _implementation;

    /// @notice `account` was deployed with the passkey `(qx, qy)` as its first signer.
    event AccountCreated(address indexed account, bytes32 qx, bytes32 qy);

    constructor() {
        address verifier_ = address(new ERC7913WebAuthnVerifier());
        _verifier = verifier_;
        _implementation = address(new TwinmarkPasskeyAccount(verifier_));
    }

    /// @notice The ERC-7913 WebAuthn verifier every account's passkey signers name.
    function verifier() external view returns (address) {
        return _verifier;
    }

    /// @notice The account implementation the clones delegate to.
    function implementation() external view returns (address) {
        return _implementation;
    }

    /**
     * @notice The address of the account whose first signer is the passkey `(qx, qy)`, deployed or not.
     * @param qx The passkey's public key, x coordinate.
     * @param qy The passkey's public key, y coordinate.
     */
    function predict(bytes32 qx, bytes32 qy) public view returns (address) {
        return Clones.predictDeterministicAddress(_implementation, _salt(qx, qy));
    }

    /**
     * @notice Deploys the account of the passkey `(qx, qy)` if it has no code yet, and returns its
     * address either way. Anyone may call it: the key fixes the address and the first signer.
     * @param qx The passkey's public key, x coordinate.
     * @param qy The passkey's public key, y coordinate.
     */
    function createAccount(bytes32 qx, bytes32 qy) external returns (address account) {
        account = predict(qx, qy);
        if (account.code.length == 0) {
            Clones.cloneDeterministic(_implementation, _salt(qx, qy));
            TwinmarkPasskeyAccount(payable(account)).initialize(qx, qy);
            emit AccountCreated(account, qx, qy);
        }
    }

    function _salt(bytes32 qx, bytes32 qy) private pure returns (bytes32) {
        return keccak256(abi.encode(qx, qy));
    }
}
