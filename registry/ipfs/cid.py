"""CIDv1 text form (multibase base32) for the sha2-256 CIDs Twinmark anchors on chain."""

from __future__ import annotations

import base64

RAW = 0x55
DAG_PB = 0x70
_SHA2_256 = b"\x12\x20"


def cid_v1_bytes(codec: int, digest: bytes) -> bytes:
    if len(digest) != 32 or codec not in (RAW, DAG_PB):
        raise ValueError("expected a raw or dag-pb codec and a 32-byte sha2-256 digest")
    return bytes([0x01, codec]) + _SHA2_256 + digest


def cid_v1(codec: int, digest: bytes) -> str:
    """`b` + RFC 4648 base32, lowercase and unpadded, as Kubo prints CIDv1."""
    return "b" + base64.b32encode(cid_v1_bytes(codec, digest)).decode().lower().rstrip("=")


def parse_cid_v1(text: str) -> tuple[int, bytes]:
    """(codec, digest) of a base32 CIDv1 over sha2-256; ValueError for anything else."""
    if not text.startswith("b"):
        raise ValueError("expected a base32 CIDv1 (prefix 'b')")
    body = text[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise ValueError("invalid base32 in CID") from exc
    if len(raw) != 36 or raw[0] != 0x01 or raw[1] not in (RAW, DAG_PB) or raw[2:4] != _SHA2_256:
        raise ValueError("expected a CIDv1 with raw or dag-pb codec and a sha2-256 multihash")
    return raw[1], raw[4:]
