"""HaLo chips (Arx): secp256k1 signatures by the chip's key slot 2, as libhalo documents them.

A tap URL carries `rnd` (4-byte big-endian counter || 28 random bytes) and `rndsig`, a DER ECDSA
signature over SHA-256(b"\\x19Attest counter pk2:\\n" || rnd); a challenge (`sign_challenge`) is
signed over SHA-256(b"\\x19External chall pk2:\\n" || challenge32). Twinmark identifies a chip by the
Ethereum address of that key (slot 2), the key both kinds of signature are made with.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_keys.datatypes import PublicKey, Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError

_N = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
RND_PREFIX = b"\x19Attest counter pk2:\n"
CHALLENGE_PREFIX = b"\x19External chall pk2:\n"


class HaloError(ValueError):
    """Input that is not a HaLo value (bad length, not a curve point, not a DER signature)."""


def rnd_counter(rnd: bytes) -> int:
    if len(rnd) != 32:
        raise HaloError("rnd is 32 bytes (4-byte counter and 28 random bytes)")
    return int.from_bytes(rnd[:4], "big")


def rnd_digest(rnd: bytes) -> bytes:
    return hashlib.sha256(RND_PREFIX + rnd).digest()


def challenge_digest(challenge: bytes) -> bytes:
    if len(challenge) != 32:
        raise HaloError("a challenge is 32 bytes")
    return hashlib.sha256(CHALLENGE_PREFIX + challenge).digest()


def parse_signature(sig: bytes) -> tuple[int, int]:
    """(r, s) of a DER signature; chips may pad it, so only the first sig[1] + 2 bytes count.
    A 64-byte r || s (or 65 with a recovery byte) is accepted too."""
    if len(sig) in (64, 65) and sig[:1] != b"\x30":
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
    else:
        if len(sig) < 8 or sig[0] != 0x30 or sig[1] + 2 > len(sig):
            raise HaloError("the signature is not DER-encoded")
        try:
            r, s = decode_dss_signature(sig[: sig[1] + 2])
        except ValueError:
            raise HaloError("the signature is not DER-encoded") from None
    if not (0 < r < _N and 0 < s < _N):
        raise HaloError("the signature's r or s is out of range")
    return r, s


def public_key(raw: bytes) -> PublicKey:
    """A secp256k1 public key from 65 bytes (04 || x || y), 64 bytes (x || y) or 33 (compressed),
    refused unless it is a point on the curve."""
    if len(raw) == 64:
        raw = b"\x04" + raw
    if not ((len(raw) == 65 and raw[0] == 4) or (len(raw) == 33 and raw[0] in (2, 3))):
        raise HaloError("a public key is 65 bytes (04...), 64 bytes or 33 bytes (compressed)")
    try:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), raw)
    except ValueError:
        raise HaloError("not a point on secp256k1") from None
    return PublicKey(point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:])


def address(key: PublicKey) -> str:
    return to_checksum_address(key.to_canonical_address())


def signers(digest: bytes, sig: bytes) -> list[str]:
    """The addresses of the keys that this signature over `digest` could come from (an ECDSA signature
    without its recovery id names up to two): a key is genuine if its address is among them."""
    r, s = parse_signature(sig)
    found = []
    for v in (0, 1):
        try:
            found.append(address(Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)))
        except (BadSignature, ValidationError):
            continue
    return found
