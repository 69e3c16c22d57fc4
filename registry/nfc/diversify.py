"""AES-128 key diversification per NXP AN10922, and the per-tag NTAG 424 DNA keys Twinmark derives.

AN10922: diversified key = AES-CMAC(master, 0x01 || M) where M (1..31 bytes) is the diversification
input. The CMAC message is always two blocks: shorter ones are padded (0x80 then zeros) and XORed
with subkey K2 rather than K1, so for short inputs it is not the plain CMAC of the unpadded message.

Twinmark's inputs (documented for brands programming tags; all bytes below, no length prefixes):
- SDMFileRead key (per tag):  M = UID (7 bytes) || AID || b"twinmark:SDMFileRead"
- SDMMetaRead key (per brand): M = AID || b"twinmark:SDMMetaRead"
with AID = 0x000001 (the NTAG 424 DNA's one application). The meta key cannot depend on the UID: the
verifier only learns the UID by decrypting the PICC data with it. A tag's CMAC, the proof that the
tap is genuine, is made with its own UID-diversified file key.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AID = bytes.fromhex("000001")
FILE_READ_SI = b"twinmark:SDMFileRead"
META_READ_SI = b"twinmark:SDMMetaRead"
_RB = 0x87  # the CMAC constant for 128-bit blocks


def _encrypt_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block, as CMAC specifies
    return enc.update(block) + enc.finalize()


def _double(block: bytes) -> bytes:
    value = int.from_bytes(block, "big") << 1
    if value >> 128:
        value = (value & ((1 << 128) - 1)) ^ _RB
    return value.to_bytes(16, "big")


def diversify(master: bytes, data: bytes) -> bytes:
    """The AN10922 AES-128 diversified key of `master` for diversification input `data` (1..31 bytes)."""
    if len(master) != 16:
        raise ValueError("the master key is AES-128 (16 bytes)")
    if not 1 <= len(data) <= 31:
        raise ValueError("AN10922 diversification input is 1 to 31 bytes")
    k1 = _double(_encrypt_block(master, bytes(16)))
    k2 = _double(k1)
    message = b"\x01" + data
    padded = len(message) < 32
    if padded:
        message = message + b"\x80" + bytes(31 - len(message))
    last = bytes(a ^ b for a, b in zip(message[16:], k2 if padded else k1, strict=True))
    first = _encrypt_block(master, message[:16])
    return _encrypt_block(master, bytes(a ^ b for a, b in zip(first, last, strict=True)))


def file_read_key(master: bytes, uid: bytes) -> bytes:
    """A tag's SDMFileRead key (its CMAC and encrypted file data): diversified with its UID."""
    return diversify(master, uid + AID + FILE_READ_SI)


def meta_read_key(master: bytes) -> bytes:
    """The brand's SDMMetaRead key (decrypts the PICC data of every tag it programs)."""
    return diversify(master, AID + META_READ_SI)
