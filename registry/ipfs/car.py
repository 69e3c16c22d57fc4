"""CAR v1 (content-addressed archives), as trustless gateways serve a DAG: a DAG-CBOR header naming the
roots, then each block as `varint(len) || CID bytes || block`. Written and read by hand: the header
is one fixed shape, and a reader must check every block against its CID anyway."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from registry.ipfs.cid import CID
from registry.ipfs.varint import encode_varint, read_varint


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 256:
        return bytes([major << 5 | 24, n])
    return bytes([major << 5 | 25]) + n.to_bytes(2, "big")


def header(roots: list[CID]) -> bytes:
    """`{"roots": [CID...], "version": 1}` in DAG-CBOR (keys sorted length-first; a CID is tag 42 over
    its bytes with a leading 0x00), prefixed by its length."""
    body = bytearray(b"\xa2" + _cbor_head(3, 5) + b"roots" + _cbor_head(4, len(roots)))
    for root in roots:
        raw = b"\x00" + root.to_bytes()
        body += b"\xd8\x2a" + _cbor_head(2, len(raw)) + raw
    body += _cbor_head(3, 7) + b"version" + b"\x01"
    return encode_varint(len(body)) + bytes(body)


def section(cid: CID, block: bytes) -> bytes:
    raw = cid.to_bytes()
    return encode_varint(len(raw) + len(block)) + raw + block


def write(roots: list[CID], blocks: Iterable[tuple[CID, bytes]]) -> Iterator[bytes]:
    yield header(roots)
    for cid, block in blocks:
        yield section(cid, block)


def _cbor_arg(head: bytes, cursor: int, major: int) -> tuple[int, int]:
    """The argument of the CBOR item at `cursor`, which must be of `major` type: a value below 24 in the
    initial byte, or one (24) or two (25) bytes after it, as `_cbor_head` writes them."""
    if cursor >= len(head) or head[cursor] >> 5 != major:
        raise ValueError(f"CAR header: expected CBOR major type {major}")
    low = head[cursor] & 0x1F
    if low < 24:
        return low, cursor + 1
    width = {24: 1, 25: 2}.get(low)
    if width is None or cursor + 1 + width > len(head):
        raise ValueError("CAR header: unsupported or truncated CBOR length")
    return int.from_bytes(head[cursor + 1 : cursor + 1 + width], "big"), cursor + 1 + width


def _header_roots(head: bytes) -> list[CID]:
    """The roots of `{"roots": [CID...], "version": 1}` in the one shape `header` writes."""
    prefix, suffix = b"\xa2\x65roots", b"\x67version\x01"
    if not head.startswith(prefix) or not head.endswith(suffix):
        raise ValueError("not a CAR v1 header")
    end = len(head) - len(suffix)
    count, cursor = _cbor_arg(head, len(prefix), 4)
    if count < 1:
        raise ValueError("a CAR v1 header names at least one root")
    roots = []
    for _ in range(count):
        if head[cursor : cursor + 2] != b"\xd8\x2a":
            raise ValueError("CAR root is not a CID (tag 42)")
        size, cursor = _cbor_arg(head, cursor + 2, 2)
        raw = head[cursor : cursor + size]
        if len(raw) != size or cursor + size > end or raw[:1] != b"\x00":
            raise ValueError("CAR root CID is truncated or lacks its 0x00 prefix")
        roots.append(CID.from_bytes(raw[1:]))
        cursor += size
    if cursor != end:
        raise ValueError("CAR header holds more than its roots and version")
    return roots


def read(data: bytes) -> tuple[list[CID], list[tuple[CID, bytes]]]:
    """Roots and blocks of a CAR v1; ValueError when malformed or when a block does not hash to its CID."""
    length, pos = read_varint(data, 0)
    head, pos = data[pos : pos + length], pos + length
    if len(head) != length:
        raise ValueError("truncated CAR header")
    roots = _header_roots(head)
    blocks = []
    while pos < len(data):
        length, pos = read_varint(data, pos)
        chunk, pos = data[pos : pos + length], pos + length
        if len(chunk) != length:
            raise ValueError("truncated CAR section")
        cid_len = 34 if chunk[:2] == b"\x12\x20" else 36
        if len(chunk) < cid_len:
            raise ValueError("CAR section shorter than its CID")
        cid, block = CID.from_bytes(chunk[:cid_len]), chunk[cid_len:]
        if not cid.verify(block):
            raise ValueError(f"CAR block {cid} does not hash to its CID")
        blocks.append((cid, block))
    return roots, blocks
