"""CAR v1 (content-addressed archives), as trustless gateways serve a DAG: a DAG-CBOR header naming the
roots, then each block as `varint(len) || CID bytes || block`. Written and read by hand: the header
is one fixed shape, and a reader must check every block against its CID anyway."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from registry.ipfs.cid import CID


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


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
    return _varint(len(body)) + bytes(body)


def section(cid: CID, block: bytes) -> bytes:
    raw = cid.to_bytes()
    return _varint(len(raw) + len(block)) + raw + block


def write(roots: list[CID], blocks: Iterable[tuple[CID, bytes]]) -> Iterator[bytes]:
    yield header(roots)
    for cid, block in blocks:
        yield section(cid, block)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 56:
            raise ValueError("truncated or oversized varint in CAR")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def read(data: bytes) -> tuple[list[CID], list[tuple[CID, bytes]]]:
    """Roots and blocks of a CAR v1; ValueError when malformed or when a block does not hash to its CID."""
    length, pos = _read_varint(data, 0)
    head, pos = data[pos : pos + length], pos + length
    if len(head) != length or not head.startswith(b"\xa2\x65roots") or not head.endswith(b"\x67version\x01"):
        raise ValueError("not a CAR v1 header")
    roots, cursor = [], len(b"\xa2\x65roots")
    count = head[cursor] & 0x1F
    cursor += 1
    for _ in range(count):
        if head[cursor : cursor + 2] != b"\xd8\x2a":
            raise ValueError("CAR root is not a CID")
        size = head[cursor + 3] if head[cursor + 2] == 0x58 else head[cursor + 2] & 0x1F
        start = cursor + (4 if head[cursor + 2] == 0x58 else 3)
        roots.append(CID.from_bytes(head[start + 1 : start + size]))
        cursor = start + size
    blocks = []
    while pos < len(data):
        length, pos = _read_varint(data, pos)
        chunk, pos = data[pos : pos + length], pos + length
        if len(chunk) != length:
            raise ValueError("truncated CAR section")
        cid_len = 34 if chunk[:2] == b"\x12\x20" else 36
        cid, block = CID.from_bytes(chunk[:cid_len]), chunk[cid_len:]
        if not cid.verify(block):
            raise ValueError(f"CAR block {cid} does not hash to its CID")
        blocks.append((cid, block))
    return roots, blocks
