"""The multiformats varint: the spec's vectors, a round trip at the edges, and refusal of what a
hostile CAR or dag-pb block could carry (a truncated or endless varint)."""

from __future__ import annotations

import pytest

from registry.ipfs.varint import encode_varint, read_varint


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (255, "ff01"), (300, "ac02"), (16384, "808001")],
)
def test_the_multiformats_vectors(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    assert read_varint(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


def test_values_round_trip_and_reading_starts_where_asked() -> None:
    for value in (2**7 - 1, 2**7, 2**14, 2**32 + 5, 2**63 - 1):
        buf = b"\xaa" + encode_varint(value) + b"\x07"
        assert read_varint(buf, 1) == (value, len(buf) - 1)


def test_a_truncated_or_endless_varint_is_refused() -> None:
    with pytest.raises(ValueError, match="truncated"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(ValueError, match="too long"):
        read_varint(b"\xff" * 10 + b"\x01", 0)
