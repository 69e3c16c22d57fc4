// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TwinmarkCollection} from "../TwinmarkCollection.sol";
import {ITwinmarkCollection} from "../interfaces/ITwinmarkCollection.sol";
import {TwinmarkAccountFactory} from "./TwinmarkAccountFactory.sol";
import {TwinmarkPasskeyAccount} from "./TwinmarkPasskeyAccount.sol";

/**
 * @title TwinmarkRelayHelper
 * @notice Makes a passkey account's first action one transaction: deploys the account through the
 * factory if it has no code yet, then makes one signed call that needs it deployed — a collection's
 * {TwinmarkCollection-transferBySig} or {TwinmarkCollection-reportStatusBySig} (the collection asks
 * the account, ERC-1271), or the account's own {TwinmarkPasskeyAccount-executeBySig}. A revert of
 * the call is passed on with its data, so the relayer sees the collection's or the account's error.
 *
 * @dev Stateless and without privileges; anyone may call it. It offers exactly three calls, each of
 * which checks a signature of the account's signers itself, and no call of the caller's choosing.
 * Nothing trusts it: it is no collection's operator, minter or approved address, no account's signer
 * or entry point, holds no assets (it refuses ERC-721 safe transfers: no `onERC721Received`) and
 * keeps no storage. So whatever it does, its caller could do by calling the factory and the target
 * directly: it cannot make an account or a collection do anything a signature did not allow.
 * Deploying an account is open to anyone anyway (the key fixes address and first signer).
 */
contract TwinmarkRelayHelper {
    TwinmarkAccountFactory private immutable _factory;

    /// @param factory_ The factory whose accounts this helper deploys.
    constructor(TwinmarkAccountFactory factory_) {
        _factory = factory_;
    }

    /// @notice The factory whose accounts this helper deploys.
    function factory() external view returns (address) {
        return address(_factory);
    }

    /**
     * @notice Deploys the account of the passkey `(qx, qy)` if needed, then relays the owner's signed
     * transfer to the collection, which checks the account's ERC-1271 signature.
     * @param qx The account's first passkey, x coordinate (fixes the account's address).
     * @param qy The account's first passkey, y coordinate.
     * @param collection The Twinmark collection holding the twin.
     * @param to The recipient.
     * @param tokenId The twin.
     * @param nonce The twin's current nonce.
     * @param deadline Last block time at which the signature is valid.
     * @param signature The account's ERC-1271 signature of the collection's `TransferTwin` digest.
     * @return account The passkey account.
     */
    function transferBySig(
        bytes32 qx,
        bytes32 qy,
        TwinmarkCollection collection,
        address to,
        uint256 tokenId,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (address account) {
        account = _factory.createAccount(qx, qy);
        collection.transferBySig(to, tokenId, nonce, deadline, signature);
    }

    /**
     * @notice Deploys the account of the passkey `(qx, qy)` if needed, then relays the owner's signed
     * status report to the collection, which checks the account's ERC-1271 signature.
     * @param qx The account's first passkey, x coordinate (fixes the account's address).
     * @param qy The account's first passkey, y coordinate.
     * @param collection The Twinmark collection holding the twin.
     * @param tokenId The twin.
     * @param status `Lost` or `Stolen`, or `None` to clear the owner's own `Lost` report.
     * @param nonce The twin's current nonce.
     * @param deadline Last block time at which the signature is valid.
     * @param signature The account's ERC-1271 signature of the collection's `ReportStatus` digest.
     * @return account The passkey account.
     */
    function reportStatusBySig(
        bytes32 qx,
        bytes32 qy,
        TwinmarkCollection collection,
        uint256 tokenId,
        ITwinmarkCollection.Status status,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (address account) {
        account = _factory.createAccount(qx, qy);
        collection.reportStatusBySig(tokenId, status, nonce, deadline, signature);
    }

    /**
     * @notice Deploys the account of the passkey `(qx, qy)` if needed, then relays a batch signed by
     * one of its signers to the account's own {TwinmarkPasskeyAccount-executeBySig}.
     * @param qx The account's first passkey, x coordinate (fixes the account's address).
     * @param qy The account's first passkey, y coordinate.
     * @param mode The ERC-7579 execution mode (batch, default).
     * @param executionData `abi.encode(Call[])`, the calls the account makes.
     * @param nonce The account's current nonce.
     * @param deadline Last block time at which the signature is valid.
     * @param signature A signer's signature of the account's `Execute` digest.
     * @return account The passkey account.
     */
    function executeBySig(
        bytes32 qx,
        bytes32 qy,
        bytes32 mode,
        bytes calldata executionData,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (address account) {
        account = _factory.createAccount(qx, qy);
        TwinmarkPasskeyAccount(payable(account)).executeBySig(mode, executionData, nonce, deadline, signature);
    }
}
