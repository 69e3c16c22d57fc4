// SHA-256 from @noble/hashes, for re-checks where WebCrypto's crypto.subtle is missing.
export { sha256 } from "@noble/hashes/sha2";
