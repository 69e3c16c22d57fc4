// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title CidV1
 * @notice Builds and prints IPFS CIDv1 values for sha2-256 content, as Kubo prints them (multibase
 * base32, lowercase, no padding, prefix `b`). Only the codecs Twinmark anchors are supported:
 * `raw` (0x55, a single-block file added with raw leaves) and `dag-pb` (0x70, UnixFS files and
 * directories).
 */
library CidV1 {
    uint8 internal constant CODEC_RAW = 0x55;
    uint8 internal constant CODEC_DAG_PB = 0x70;
    uint256 internal constant BINARY_LENGTH = 36;

    bytes32 private constant _ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    /// @dev The 36-byte binary CID: version 1, codec, multihash sha2-256 (0x12) of 32 bytes (0x20).
    function encode(uint8 codec, bytes32 digest) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x01), codec, uint8(0x12), uint8(0x20), digest);
    }

    /**
     * @dev Splits a binary CID into codec and digest, returning `ok = false` for anything that is not
     * a CIDv1 with a supported codec and a sha2-256 multihash.
     */
    function tryDecode(bytes calldata cid) internal pure returns (bool ok, uint8 codec, bytes32 digest) {
        if (cid.length != BINARY_LENGTH || cid[0] != 0x01 || cid[2] != 0x12 || cid[3] != 0x20) {
            return (false, 0, 0);
        }
        codec = uint8(cid[1]);
        if (codec != CODEC_RAW && codec != CODEC_DAG_PB) return (false, 0, 0);
        return (true, codec, bytes32(cid[4:36]));
    }

    /// @dev Multibase base32 (RFC 4648 lowercase, unpadded) of `codec` + `digest`, e.g. `bafybei...`.
    function toString(uint8 codec, bytes32 digest) internal pure returns (string memory) {
        bytes memory data = encode(codec, digest);
        // 36 bytes = 288 bits = 58 base32 characters (the last one padded with zero bits).
        bytes memory out = new bytes(59);
        out[0] = "b";
        uint256 buffer;
        uint256 bits;
        uint256 j = 1;
        for (uint256 i; i < data.length; ++i) {
            // Only the low bits of `buffer` are ever read; the left shift discarding high bits is intended.
            buffer = (buffer << 8) | uint8(data[i]);
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                out[j++] = _ALPHABET[(buffer >> bits) & 31];
            }
        }
        if (bits > 0) out[j] = _ALPHABET[(buffer << (5 - bits)) & 31];
        return string(out);
    }
}
