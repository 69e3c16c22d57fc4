// The part of ethers the verification page and "My items" use, as the `ethers` global the full UMD
// build gives: recheck.js (ABI), owner.js and owner-sign.js (bytes, addresses, hashes, typed data).
// A name a page script starts to use must be added here (and the bundle rebuilt: build.sh).
export {
  AbiCoder,
  Interface,
  TypedDataEncoder,
  concat,
  encodeBase64,
  getAddress,
  getBytes,
  getCreate2Address,
  hashMessage,
  hexlify,
  id,
  keccak256,
  toBeHex,
} from "ethers";
