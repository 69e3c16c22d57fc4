"""NTAG 424 DNA Secure Unique NFC (SUN) messages, AES mode (NXP AN12196).

A tap URL carries the PICC data (UID and read counter) encrypted with the SDMMetaRead key, optionally
file data encrypted with a session key, and an 8-byte MAC made with a session key derived from the
SDMFileRead key, the UID and the counter. Replay protection (a counter higher than the last one
seen) is the verifier's job, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

UID_MIRRORED = 0x80
COUNTER_MIRRORED = 0x40
UID_LENGTH = 7
MAX_COUNTER = 0xFFFFFF  # SDMReadCtr is 3 bytes
_SV1 = bytes.fromhex("C33C00010080")  # session vector for the encryption key
_SV2 = bytes.fromhex("3CC300010080")  # session vector for the MAC key


class SunError(ValueError):
    """The PICC data does not decrypt to a UID and counter mirrored as this service requires."""


class CounterNotMirrored(SunError):
    """PICC data of a genuine-looking tag that does not mirror its read counter."""


@dataclass(frozen=True)
class PiccData:
    uid: bytes
    counter: int


def cmac(key: bytes, message: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def _aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def _aes_ecb_encrypt(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block (the IV), per AN12196
    return enc.update(block) + enc.finalize()


def counter_bytes(counter: int) -> bytes:
    """SDMReadCtr as the tag puts it in session vectors: 3 bytes, least significant first."""
    return counter.to_bytes(3, "little")


def decrypt_picc(meta_key: bytes, encrypted: bytes) -> PiccData:
    """PICCData = AES-CBC-decrypt(K_SDMMetaRead, zero IV, PICCEncData): tag byte, UID, counter.
    Refused unless both the UID and the read counter are mirrored (no replay check without them)."""
    if len(encrypted) != 16:
        raise SunError("PICC data is 16 bytes")
    plain = _aes_cbc_decrypt(meta_key, bytes(16), encrypted)
    tag = plain[0]
    if not tag & UID_MIRRORED or tag & 0x0F != UID_LENGTH:
        raise SunError("the PICC data does not decrypt to a mirrored 7-byte UID under this key")
    if not tag & COUNTER_MIRRORED:
        raise CounterNotMirrored("the tag does not mirror its read counter, so a replay could not be detected")
    return PiccData(uid=plain[1:8], counter=int.from_bytes(plain[8:11], "little"))


def _session_vector(prefix: bytes, uid: bytes, counter: int) -> bytes:
    vector = prefix + uid + counter_bytes(counter)
    return vector + bytes(-len(vector) % 16)


def session_mac_key(file_key: bytes, uid: bytes, counter: int) -> bytes:
    """K_SesSDMFileReadMAC = AES-CMAC(K_SDMFileRead, SV2)."""
    return cmac(file_key, _session_vector(_SV2, uid, counter))


def session_enc_key(file_key: bytes, uid: bytes, counter: int) -> bytes:
    """K_SesSDMFileReadENC = AES-CMAC(K_SDMFileRead, SV1)."""
    return cmac(file_key, _session_vector(_SV1, uid, counter))


def truncate(full: bytes) -> bytes:
    """The 8 bytes the tag mirrors: bytes 1, 3, 5, ..., 15 of the full CMAC."""
    return full[1::2]


def mac_input(enc_text: str | None) -> bytes:
    """What the tag MACs in Twinmark's URL layout: nothing when only the PICC data is mirrored
    (the MAC input offset equals the MAC offset), else the encrypted file data's hex as it stands
    in the URL followed by `&cmac=` (MAC input offset at the start of the `enc` value)."""
    return b"" if enc_text is None else (enc_text + "&cmac=").encode()


def sdm_mac(file_key: bytes, uid: bytes, counter: int, message: bytes) -> bytes:
    """The SDMMAC a genuine tag with this file key puts in its URL for this UID, counter and input."""
    return truncate(cmac(session_mac_key(file_key, uid, counter), message))


def decrypt_file_data(file_key: bytes, uid: bytes, counter: int, encrypted: bytes) -> bytes:
    """SDM encrypted file data: AES-CBC under K_SesSDMFileReadENC, IV = E(K, counter || 13 zero bytes)."""
    if not encrypted or len(encrypted) % 16:
        raise SunError("encrypted file data is a whole number of 16-byte blocks")
    key = session_enc_key(file_key, uid, counter)
    iv = _aes_ecb_encrypt(key, counter_bytes(counter) + bytes(13))
    return _aes_cbc_decrypt(key, iv, encrypted)
