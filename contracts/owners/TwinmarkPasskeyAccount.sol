// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {ERC7821} from "@openzeppelin/contracts/account/extensions/draft-ERC7821.sol";
import {ERC7579Utils} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {AbstractSigner} from "@openzeppelin/contracts/utils/cryptography/signers/AbstractSigner.sol";
import {MultiSignerERC7913} from "@openzeppelin/contracts/utils/cryptography/signers/MultiSignerERC7913.sol";
import {ERC7739} from "@openzeppelin/contracts/utils/cryptography/signers/draft-ERC7739.sol";

/**
 * @title TwinmarkPasskeyAccount
 * @notice An owner account whose signers are passkeys (P-256 WebAuthn keys checked by one
 * {ERC7913WebAuthnVerifier}) or Ethereum addresses (the owner's exit to a wallet). Any one signer
 * acts alone. Nobody else can act for it: there is no owner, guardian, operator role or upgrade, and
 * the service that relays its signatures only pays their gas.
 *
 * @dev Deployed as an ERC-1167 clone by {TwinmarkAccountFactory}, which initializes it with its first
 * passkey in the same transaction. It acts in three ways:
 *
 * - ERC-1271 through ERC-7739 ({isValidSignature}): a signer signs the ERC-7739 `PersonalSign` (or
 *   `TypedDataSign`) wrap of the hash, under this account's EIP-712 domain. The wrap binds a signature
 *   to one account and chain, so a passkey that is a signer of two accounts cannot have a signature
 *   made for one replayed for the other. The signature is `abi.encode(bytes[] signers, bytes[]
 *   signatures)` ({MultiSignerERC7913}); a passkey's is the flat `abi.encode` of `WebAuthn.WebAuthnAuth`.
 * - {executeBySig}: a signer signs an `Execute` message (this account's EIP-712 domain, a nonce and a
 *   deadline) for an ERC-7821 batch; anyone may relay it. This needs no gas stipend, so it works where
 *   P-256 is verified in Solidity (no precompile at 0x100).
 * - ERC-4337 ({validateUserOp}, entry point v0.9) and ERC-7821 {execute} from the entry point or
 *   itself, for bundlers on chains that have them.
 *
 * Signers change only by the account's own call ({addSigners}, {removeSigners}, reached through
 * {executeBySig} or the entry point); the last signer cannot be removed.
 */
contract TwinmarkPasskeyAccount is
    Account,
    EIP712,
    ERC7739,
    ERC7821,
    MultiSignerERC7913,
    Nonces,
    ERC721Holder,
    Initializable
{
    /// @notice The EIP-712 type a signer signs for {executeBySig}.
    bytes32 public constant EXECUTE_TYPEHASH =
        keccak256("Execute(bytes32 mode,bytes32 executionDataHash,uint256 nonce,uint256 deadline)");

    address private immutable _verifier;
    address private immutable _factory;

    /// @dev `caller` is not the factory that deployed the implementation.
    error TwinmarkPasskeyAccountUnauthorizedInitializer(address caller);

    /// @dev `(qx, qy)` is not a point of the P-256 curve.
    error TwinmarkPasskeyAccountInvalidKey(bytes32 qx, bytes32 qy);

    /// @dev `signer` is neither `verifier || qx || qy` with a valid P-256 key nor a non-zero address.
    error TwinmarkPasskeyAccountInvalidSigner(bytes signer);

    /// @dev The signature's `deadline` has passed.
    error TwinmarkPasskeyAccountExpiredSignature(uint256 deadline);

    /// @dev The signature is not a current signer's signature of the `Execute` message.
    error TwinmarkPasskeyAccountInvalidSignature();

    /// @notice A signed batch with `nonce` was run by {executeBySig}.
    event ExecutedBySig(uint256 indexed nonce);

    /**
     * @param verifier_ The ERC-7913 WebAuthn verifier every passkey signer of every clone names.
     * @dev The implementation itself never acts: its only signer is the zero address (which no
     * signature recovers to) and its initializer is disabled. Clones start with empty storage.
     */
    constructor(address verifier_) EIP712("Twinmark account", "1") MultiSignerERC7913(_placeholderSigners(), 1) {
        _verifier = verifier_;
        _factory = msg.sender;
        _disableInitializers();
    }

    /**
     * @notice Sets the clone's first signer, the passkey `(qx, qy)`, and a threshold of one. Called
     * once, by the factory, in the transaction that deploys the clone.
     * @param qx The passkey's public key, x coordinate.
     * @param qy The passkey's public key, y coordinate.
     */
    function initialize(bytes32 qx, bytes32 qy) external initializer {
        if (msg.sender != _factory) revert TwinmarkPasskeyAccountUnauthorizedInitializer(msg.sender);
        if (!P256.isValidPublicKey(qx, qy)) revert TwinmarkPasskeyAccountInvalidKey(qx, qy);
        bytes[] memory first = new bytes[](1);
        first[0] = abi.encodePacked(_verifier, qx, qy);
        _addSigners(first);
        _setThreshold(1);
    }

    /// @notice The WebAuthn verifier named by this account's passkey signers.
    function verifier() external view returns (address) {
        return _verifier;
    }

    /// @notice The factory that deploys and initializes clones of this implementation.
    function factory() external view returns (address) {
        return _factory;
    }

    /**
     * @notice Adds signers: `verifier || qx || qy` (84 bytes) for a passkey, or a 20-byte address for
     * a wallet. Only the account itself (through {executeBySig}) or the entry point.
     * @param signers The signers to add; each must be new.
     */
    function addSigners(bytes[] calldata signers) external onlyEntryPointOrSelf {
        for (uint256 i = 0; i < signers.length; ++i) {
            _checkSignerFormat(signers[i]);
        }
        _addSigners(signers);
    }

    /**
     * @notice Removes signers. Only the account itself (through {executeBySig}) or the entry point.
     * Removing the last one reverts with `MultiSignerERC7913UnreachableThreshold`.
     * @param signers The signers to remove; each must be a current signer.
     */
    function removeSigners(bytes[] calldata signers) external onlyEntryPointOrSelf {
        _removeSigners(signers);
    }

    /**
     * @notice Runs an ERC-7821 batch (`mode` batch/default) signed by one of the account's signers,
     * relayed by anyone.
     * @param mode The ERC-7579 execution mode; only batch with default execution is supported.
     * @param executionData `abi.encode(Call[])`, the calls to make from this account.
     * @param nonce The account's current nonce ({nonces} of this account); used up by the call.
     * @param deadline Last block time at which the signature is valid.
     * @param signature `abi.encode(bytes[] signers, bytes[] signatures)` over the EIP-712 `Execute` digest.
     */
    function executeBySig(
        bytes32 mode,
        bytes calldata executionData,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert TwinmarkPasskeyAccountExpiredSignature(deadline);
        if (!supportsExecutionMode(mode)) revert UnsupportedExecutionMode();
        _useCheckedNonce(address(this), nonce);
        emit ExecutedBySig(nonce);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(EXECUTE_TYPEHASH, mode, keccak256(executionData), nonce, deadline))
        );
        if (!_rawSignatureValidation(digest, signature)) revert TwinmarkPasskeyAccountInvalidSignature();
        ERC7579Utils.execBatch(executionData, ERC7579Utils.EXECTYPE_DEFAULT);
    }

    /// @dev {execute} is open to the account itself and to the ERC-4337 entry point.
    function _erc7821AuthorizedExecutor(
        address caller,
        bytes32 mode,
        bytes calldata executionData
    ) internal view virtual override returns (bool) {
        return caller == address(entryPoint()) || super._erc7821AuthorizedExecutor(caller, mode, executionData);
    }

    /// @dev The signature check of {MultiSignerERC7913}, shared by ERC-1271, ERC-4337 and {executeBySig}.
    function _rawSignatureValidation(
        bytes32 hash,
        bytes calldata signature
    ) internal view virtual override(AbstractSigner, MultiSignerERC7913) returns (bool) {
        return super._rawSignatureValidation(hash, signature);
    }

    /// @dev A passkey of this account's verifier with a key on the curve, or a non-zero address.
    function _checkSignerFormat(bytes calldata signer) private view {
        bool valid;
        if (signer.length == 20) {
            valid = bytes20(signer) != bytes20(0);
        } else if (signer.length == 84) {
            valid =
                address(bytes20(signer[0:20])) == _verifier &&
                P256.isValidPublicKey(bytes32(signer[20:52]), bytes32(signer[52:84]));
        }
        if (!valid) revert TwinmarkPasskeyAccountInvalidSigner(signer);
    }

    /// @dev The implementation's only signer: the zero address, for which no signature is ever valid.
    function _placeholderSigners() private pure returns (bytes[] memory signers) {
        signers = new bytes[](1);
        signers[0] = abi.encodePacked(address(0));
    }
}
