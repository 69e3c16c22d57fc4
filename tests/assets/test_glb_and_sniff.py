"""Uploaded files: media types sniffed from magic bytes, and GLB containers checked per glTF 2.0 §4.4."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from registry.assets.service import GLB, sniff, validate_glb
from registry.errors import InvalidInput

JSON_CHUNK = b"JSON"  # chunk types are ASCII, read as little-endian uint32 (0x4E4F534A, 0x004E4942)
BIN_CHUNK = b"BIN\x00"


def chunk(kind: bytes, payload: bytes, pad: bytes) -> bytes:
    """One chunk: uint32 length, 4-byte type, payload padded to a 4-byte boundary with `pad`."""
    payload += pad * (-len(payload) % 4)
    return struct.pack("<I", len(payload)) + kind + payload


def json_chunk(doc: Any) -> bytes:
    return chunk(JSON_CHUNK, json.dumps(doc).encode(), b" ")


def bin_chunk(data: bytes) -> bytes:
    return chunk(BIN_CHUNK, data, b"\x00")


def container(*chunks: bytes, version: int = 2, length: int | None = None) -> bytes:
    """12-byte header (magic, version, total length) followed by the chunks."""
    body = b"".join(chunks)
    return b"glTF" + struct.pack("<II", version, 12 + len(body) if length is None else length) + body


def gltf(**extra: Any) -> dict[str, Any]:
    return {"asset": {"version": "2.0", "generator": "hand-made"}, **extra}


def valid_glb() -> bytes:
    mesh = bytes(range(36))  # 36 bytes: 4-aligned already; a 37-byte buffer gets 3 zero bytes of padding below
    return container(json_chunk(gltf(buffers=[{"byteLength": 37}])), bin_chunk(mesh + b"\x01"))


def refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_glb(data)


# ---------------------------------------------------------------- valid files


def test_a_well_formed_glb_passes() -> None:
    """JSON chunk padded with spaces + BIN chunk padded with zeros, lengths consistent: accepted."""
    data = valid_glb()
    assert len(data) % 4 == 0 and struct.unpack_from("<I", data, 8)[0] == len(data)
    validate_glb(data)
    assert sniff(data) == GLB


def test_json_only_and_external_buffers_pass() -> None:
    """The BIN chunk is optional; buffers with a `uri` are not held to the BIN chunk's size."""
    validate_glb(container(json_chunk(gltf())))
    validate_glb(container(json_chunk(gltf(buffers=[{"uri": "mesh.bin", "byteLength": 10_000}]))))
    validate_glb(container(json_chunk(gltf(asset={"version": "2.1"}))))


def test_buffer_exactly_the_bin_chunk_passes() -> None:
    """A buffer as long as the (padded) BIN chunk fits."""
    validate_glb(container(json_chunk(gltf(buffers=[{"byteLength": 8}])), bin_chunk(b"\x07" * 8)))


# ---------------------------------------------------------------- malformed files


def test_truncated_files_are_refused() -> None:
    """Shorter than a header plus one chunk header, or cut anywhere (with or without the header's length
    rewritten to match the cut): refused."""
    data = valid_glb()
    refused(data[:19], "too short")
    refused(b"", "too short")
    json_end = 12 + len(json_chunk(gltf(buffers=[{"byteLength": 37}])))
    for cut in (20, 24, json_end + 8, len(data) - 4, len(data) - 1):
        refused(data[:cut], f"declares {len(data)} bytes but the file has {cut}")
        relabelled = data[:8] + struct.pack("<I", cut) + data[12:cut]
        refused(relabelled, "runs past the end of the file")
    cut = json_end + 4
    refused(data[:8] + struct.pack("<I", cut) + data[12:cut], "chunk header truncated")


def test_wrong_magic_or_version_is_refused() -> None:
    """Version 1 (or another magic) is not a glTF 2.0 binary."""
    doc = json_chunk(gltf())
    refused(container(doc, version=1), "version 2 \\(got version 1\\)")
    refused(b"glTX" + container(doc)[4:], "'glTF' version 2")


def test_declared_length_must_match_the_file() -> None:
    """The header's total length must equal the byte count, in both directions."""
    data = valid_glb()
    refused(container(json_chunk(gltf()), length=len(container(json_chunk(gltf()))) + 4), "declares")
    refused(data + b"\x00" * 4, f"declares {len(data)} bytes but the file has {len(data) + 4}")


def test_misaligned_or_overlong_chunks_are_refused() -> None:
    """A chunk length that is not a multiple of 4, or runs past the end, is refused."""
    js = json.dumps(gltf()).encode()
    unpadded = struct.pack("<I", len(js)) + JSON_CHUNK + js
    assert len(js) % 4  # the test needs an unaligned length
    refused(container(unpadded + b" " * (-len(js) % 4)), "4-byte aligned")
    good = json_chunk(gltf())
    overlong = struct.pack("<I", len(good) - 8 + 4) + good[4:]
    refused(container(overlong), "runs past the end")


def test_trailing_bytes_that_are_no_chunk_are_refused() -> None:
    """Four stray bytes after the last chunk cannot hold a chunk header."""
    refused(container(json_chunk(gltf()), b"\x00" * 4), "chunk header truncated")


def test_first_chunk_must_be_json() -> None:
    """A BIN chunk first, or an unknown chunk type first, is refused."""
    refused(container(bin_chunk(b"\x00" * 8), json_chunk(gltf())), "start with a JSON chunk")
    refused(container(chunk(b"XTRA", b"{}", b" ")), "start with a JSON chunk")


def test_only_json_and_one_bin_chunk() -> None:
    """Three chunks, or a second chunk that is not BIN, are refused."""
    doc = json_chunk(gltf(buffers=[{"byteLength": 4}]))
    refused(container(doc, bin_chunk(b"\x00" * 4), bin_chunk(b"\x00" * 4)), "one BIN chunk")
    refused(container(doc, json_chunk(gltf())), "one BIN chunk")


def test_json_chunk_must_parse() -> None:
    """Bytes that are not UTF-8 JSON in the JSON chunk are refused."""
    refused(container(chunk(JSON_CHUNK, b'{"asset": {"version": "2.0"', b" ")), "not valid JSON")
    refused(container(chunk(JSON_CHUNK, b"\xff\xfe\xfd\xfc", b" ")), "not valid JSON")


def test_asset_version_must_be_2() -> None:
    """asset.version 1.0, a missing asset, or a JSON document that is not an object: refused."""
    refused(container(json_chunk({"asset": {"version": "1.0"}})), "asset.version 2.x")
    refused(container(json_chunk({"scenes": []})), "asset.version 2.x")
    refused(container(json_chunk(["asset", "2.0"])), "asset.version 2.x")


def test_buffer_longer_than_the_bin_chunk_is_refused() -> None:
    """An embedded buffer that claims more bytes than the BIN chunk holds (or with no BIN chunk)."""
    refused(container(json_chunk(gltf(buffers=[{"byteLength": 9}])), bin_chunk(b"\x00" * 8)), "buffer 0 is longer")
    refused(container(json_chunk(gltf(buffers=[{"uri": "a.bin"}, {"byteLength": 1}]))), "buffer 1 is longer")


# ---------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 16, "image/jpeg"),
        (b"RIFF" + struct.pack("<I", 20) + b"WEBPVP8 " + b"\x00" * 12, "image/webp"),
        (b"glTF" + struct.pack("<II", 2, 12), GLB),
    ],
    ids=["png", "jpeg", "webp", "glb"],
)
def test_sniff_recognises_magic_bytes(data: bytes, media_type: str) -> None:
    """The media type comes from the file's own signature."""
    assert sniff(data) == media_type


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a" + b"\x00" * 16,
        b"hello, this is plain text",
        b"RIFF" + struct.pack("<I", 20) + b"WAVEfmt " + b"\x00" * 12,  # RIFF, but audio
        b"\x89PNG\r\n",  # PNG signature cut short
        b'{"asset": {"version": "2.0"}}',  # glTF JSON, not the binary container
        b"",
    ],
    ids=["gif", "text", "wav", "short-png", "gltf-json", "empty"],
)
def test_sniff_refuses_other_files(data: bytes) -> None:
    """Anything but PNG, JPEG, WebP or GLB is refused with a message naming what is accepted."""
    with pytest.raises(InvalidInput, match="expected a PNG, JPEG or WebP image, or a GLB"):
        sniff(data)


@pytest.mark.parametrize(
    "doc",
    [
        {"asset": "2.0"},
        gltf(buffers=5),
        gltf(buffers=[5]),
        gltf(buffers=[{"byteLength": "9"}]),
    ],
    ids=["asset-string", "buffers-int", "buffer-int", "byte-length-string"],
)
def test_json_of_the_wrong_shape_is_invalid_input(doc: dict[str, Any]) -> None:
    """Valid JSON of the wrong shape is a malformed upload too: InvalidInput, not a crash."""
    with pytest.raises(InvalidInput):
        validate_glb(container(json_chunk(doc)))
