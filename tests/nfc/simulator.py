"""Tag simulators that build tap URLs as the chips do, written from the application notes rather than
from `registry.nfc` (so a shared mistake cannot make both sides agree)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_utils.crypto import keccak


def _cmac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


@dataclass
class Ntag424:
    """An NTAG 424 DNA with SDM on: UID and counter mirrored encrypted (PICC data), optional encrypted
    file data, SDMMAC over the URL text between the MAC input offset and the MAC."""

    uid: bytes
    meta_key: bytes
    file_key: bytes
    counter: int = 0
    file_data: bytes | None = None  # 16-byte multiple, mirrored encrypted as `enc`
    picc_tag: int = 0xC7  # UID mirrored, counter mirrored, 7-byte UID

    def tap(self) -> dict[str, str]:
        """The query the tag writes after one tap (its counter goes up first, as on the chip)."""
        self.counter += 1
        return self.params_at(self.counter)

    def params_at(self, counter: int) -> dict[str, str]:
        ctr = counter.to_bytes(3, "little")
        picc = bytes([self.picc_tag]) + self.uid + ctr + os.urandom(5)  # the padding is random on a real tag
        params = {"picc_data": _cbc(self.meta_key, bytes(16), picc).hex().upper()}
        sv2 = (bytes.fromhex("3CC300010080") + self.uid + ctr).ljust(16, b"\0")
        mac_key = _cmac(self.file_key, sv2)
        mac_input = b""
        if self.file_data is not None:
            sv1 = (bytes.fromhex("C33C00010080") + self.uid + ctr).ljust(16, b"\0")
            enc_key = _cmac(self.file_key, sv1)
            ecb = Cipher(algorithms.AES(enc_key), modes.ECB()).encryptor()
            iv = ecb.update(ctr + bytes(13)) + ecb.finalize()
            params["enc"] = _cbc(enc_key, iv, self.file_data).hex().upper()
            mac_input = (params["enc"] + "&cmac=").encode()
        params["cmac"] = _cmac(mac_key, mac_input)[1::2].hex().upper()
        return params

    def plain_params_at(self, counter: int) -> dict[str, str]:
        """Plaintext mirroring: UID and counter (big-endian) in clear, MAC over nothing."""
        sv2 = (bytes.fromhex("3CC300010080") + self.uid + counter.to_bytes(3, "little")).ljust(16, b"\0")
        mac = _cmac(_cmac(self.file_key, sv2), b"")[1::2]
        return {
            "uid": self.uid.hex().upper(),
            "ctr": counter.to_bytes(3, "big").hex().upper(),
            "cmac": mac.hex().upper(),
        }


@dataclass
class HaloChip:
    """A HaLo chip's key slot 2: a fresh secp256k1 key, a counter, `rnd`/`rndsig` taps, challenges."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256K1()))
    counter: int = 0

    @property
    def public_key(self) -> str:
        return self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint).hex()

    @property
    def address(self) -> str:
        return "0x" + keccak(bytes.fromhex(self.public_key)[1:])[-20:].hex()

    def _sign(self, digest: bytes) -> str:
        return self.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))).hex()

    def tap(self) -> dict[str, str]:
        self.counter += 1
        return self.params_at(self.counter)

    def params_at(self, counter: int) -> dict[str, str]:
        rnd = counter.to_bytes(4, "big") + os.urandom(28)
        sig = self._sign(hashlib.sha256(b"\x19Attest counter pk2:\n" + rnd).digest())
        # Chips pad rndsig; the verifier keeps only the DER length's worth.
        return {"pk1": "04" + "11" * 64, "pk2": self.public_key, "rnd": rnd.hex(), "rndsig": sig + "00" * 3}

    def sign_challenge(self, nonce_hex: str) -> str:
        return self._sign(hashlib.sha256(b"\x19External chall pk2:\n" + bytes.fromhex(nonce_hex)).digest())
