"""car.read refuses headers the lenient reader took: a root list of another CBOR major type, no
roots, lengths in forms it misread; and reads 1- and 2-byte CBOR lengths properly."""

from __future__ import annotations

import pytest

from registry.ipfs import car
from registry.ipfs.cid import CID, RAW
from registry.ipfs.varint import encode_varint


def framed(head: bytes, *sections: bytes) -> bytes:
    return encode_varint(len(head)) + head + b"".join(sections)


ROOT = CID.of(b"block", codec=RAW)
SECTION = car.section(ROOT, b"block")
TAGGED = b"\xd8\x2a\x58" + bytes([37]) + b"\x00" + ROOT.to_bytes()
VERSION = b"\x67version\x01"


def test_a_written_car_reads_back_with_many_roots() -> None:
    for count in (1, 23, 24, 255, 256, 300):
        roots, blocks = car.read(b"".join(car.write([ROOT] * count, [(ROOT, b"block")])))
        assert roots == [ROOT] * count and blocks == [(ROOT, b"block")]


def test_two_byte_cbor_lengths_are_read() -> None:
    two_byte_root = b"\xd8\x2a\x59\x00\x25" + b"\x00" + ROOT.to_bytes()
    head = b"\xa2\x65roots" + b"\x99\x00\x02" + two_byte_root + TAGGED + VERSION
    assert car.read(framed(head, SECTION))[0] == [ROOT, ROOT]


@pytest.mark.parametrize(
    "head",
    [
        b"\xa2\x65roots\x80" + VERSION,  # no roots
        b"\xa2\x65roots\x61" + TAGGED + VERSION,  # a text string, not an array, "of one"
        b"\xa2\x65roots\xa1" + TAGGED + VERSION,  # a map
        b"\xa2\x65roots\x81" + b"\xd8\x2a\x78\x25\x00" + ROOT.to_bytes() + VERSION,  # root as text
        b"\xa2\x65roots\x81" + b"\xd8\x2a\x58\x25\x01" + ROOT.to_bytes() + VERSION,  # no 0x00 prefix
        b"\xa2\x65roots\x82" + TAGGED + VERSION,  # two roots announced, one given
        b"\xa2\x65roots\x81" + TAGGED + b"\x00" + VERSION,  # trailing bytes
        b"\xa2\x65roots\x9a\x00\x00\x00\x01" + TAGGED + VERSION,  # a 4-byte length
    ],
)
def test_malformed_headers_are_refused(head: bytes) -> None:
    with pytest.raises(ValueError):
        car.read(framed(head, SECTION))


def test_a_section_shorter_than_its_cid_is_refused() -> None:
    with pytest.raises(ValueError):
        car.read(framed(car.header([ROOT])[1:], b"\x03\x01\x55\x12"))
