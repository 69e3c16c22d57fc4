// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/**
 * @title Erc6492Validator
 * @notice EIP-6492 off-chain signature check, "deploy and check": never deployed. The service runs
 * its creation code with `eth_call` (constructor arguments: signer, hash, signature) and the call
 * returns one byte, 0x01 when the signature is valid. A signature wrapped as
 * `abi.encode(factory, factoryCalldata, innerSignature) ++ 0x6492...6492` for a wallet that has no
 * code yet first has the factory deploy it (inside the call only: nothing is sent), then asks the
 * wallet (ERC-1271); a plain 65-byte signature of an address without code is checked with ecrecover.
 */
contract Erc6492Validator {
    bytes32 private constant SUFFIX = 0x6492649264926492649264926492649264926492649264926492649264926492;

    constructor(address signer, bytes32 hash, bytes memory signature) {
        bool ok = _valid(signer, hash, signature);
        assembly {
            mstore(0, ok)
            return(31, 1)
        }
    }

    function _valid(address signer, bytes32 hash, bytes memory signature) private returns (bool) {
        bytes memory inner = signature;
        if (_wrapped(signature)) {
            bytes memory body = new bytes(signature.length - 32);
            for (uint256 i = 0; i < body.length; i++) body[i] = signature[i];
            address factory;
            bytes memory factoryCalldata;
            (factory, factoryCalldata, inner) = abi.decode(body, (address, bytes, bytes));
            if (signer.code.length == 0) {
                (bool deployed, ) = factory.call(factoryCalldata);
                if (!deployed) return false;
            }
        }
        if (signer.code.length > 0) {
            try IERC1271(signer).isValidSignature(hash, inner) returns (bytes4 magic) {
                return magic == IERC1271.isValidSignature.selector;
            } catch {
                return false;
            }
        }
        return _ecrecover(signer, hash, inner);
    }

    function _wrapped(bytes memory signature) private pure returns (bool) {
        if (signature.length < 32) return false;
        bytes32 tail;
        assembly {
            tail := mload(add(signature, mload(signature)))
        }
        return tail == SUFFIX;
    }

    function _ecrecover(address signer, bytes32 hash, bytes memory signature) private pure returns (bool) {
        if (signature.length != 65) return false;
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(signature, 32))
            s := mload(add(signature, 64))
            v := byte(0, mload(add(signature, 96)))
        }
        if (v < 27) v += 27;
        address recovered = ecrecover(hash, v, r, s);
        return recovered != address(0) && recovered == signer;
    }
}
