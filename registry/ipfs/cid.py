"""Content identifiers: the sha2-256 CIDs Kubo makes (CIDv0 base58btc, CIDv1 base32).

Hand-written rather than pulled from `multiformats`/`py-cid`: Twinmark only needs sha2-256 with
the raw and dag-pb codecs, and these forty lines are easier to audit than a general library.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

RAW = 0x55
DAG_PB = 0x70
_SHA2_256 = b"\x12\x20"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        if c not in _B58_INDEX:
            raise ValueError("invalid base58 character in CID")
        n = n * 58 + _B58_INDEX[c]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


@dataclass(frozen=True, slots=True)
class CID:
    """A sha2-256 CID. CIDv0 is always dag-pb."""

    version: int
    codec: int
    digest: bytes

    @classmethod
    def of(cls, block: bytes, *, codec: int, version: int = 1) -> CID:
        """The CID of a block's bytes."""
        if version == 0 and codec != DAG_PB:
            raise ValueError("CIDv0 is dag-pb only")
        return cls(version, codec, hashlib.sha256(block).digest())

    @property
    def multihash(self) -> bytes:
        return _SHA2_256 + self.digest

    def to_bytes(self) -> bytes:
        """Binary form, as dag-pb links and the contracts carry it."""
        if self.version == 0:
            return self.multihash
        return bytes([0x01, self.codec]) + self.multihash

    def v1(self) -> CID:
        return CID(1, self.codec, self.digest)

    def __str__(self) -> str:
        if self.version == 0:
            return _b58encode(self.multihash)
        return "b" + base64.b32encode(self.to_bytes()).decode().lower().rstrip("=")

    def verify(self, block: bytes) -> bool:
        """Whether `block` is the content this CID names."""
        return hashlib.sha256(block).digest() == self.digest

    @classmethod
    def parse(cls, text: str) -> CID:
        """Parses `Qm...` (CIDv0) or `b...` (CIDv1 base32); ValueError for anything else."""
        if len(text) == 46 and text.startswith("Qm"):
            raw = _b58decode(text)
            if raw[:2] != _SHA2_256 or len(raw) != 34:
                raise ValueError("not a sha2-256 CIDv0")
            return cls(0, DAG_PB, raw[2:])
        if not text.startswith("b"):
            raise ValueError("expected a CIDv0 (Qm...) or a base32 CIDv1 (b...)")
        body = text[1:].upper()
        try:
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
        except ValueError as exc:
            raise ValueError("invalid base32 in CID") from exc
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> CID:
        if len(raw) == 34 and raw[:2] == _SHA2_256:
            return cls(0, DAG_PB, raw[2:])
        if len(raw) != 36 or raw[0] != 0x01 or raw[1] not in (RAW, DAG_PB) or raw[2:4] != _SHA2_256:
            raise ValueError("expected a CIDv1 with raw or dag-pb codec and a sha2-256 multihash")
        return cls(1, raw[1], raw[4:])


def cid_v1_bytes(codec: int, digest: bytes) -> bytes:
    if len(digest) != 32 or codec not in (RAW, DAG_PB):
        raise ValueError("expected a raw or dag-pb codec and a 32-byte sha2-256 digest")
    return CID(1, codec, digest).to_bytes()


def cid_v1(codec: int, digest: bytes) -> str:
    """`b` + RFC 4648 base32, lowercase and unpadded, as Kubo prints CIDv1."""
    return str(CID(1, codec, digest))
