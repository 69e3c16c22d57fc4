"""Review 2 attacks on the content gateway, each performed over real HTTP against a running stack:
a DAG that links one leaf many times, ranges and HEADs that must not read whole files, a 304 for
content the store does not hold, malformed Range headers, deeply nested "JSON", a block missing
mid-CAR, and an oversized download to the example game client."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from examples.game_client import GameClient
from registry.errors import RangeNotSatisfiable
from registry.gateway import service as gateway
from registry.ipfs import car
from registry.ipfs.cid import CID, DAG_PB, RAW
from registry.ipfs.store import ContentStore, LocalBlockStore, add_bytes
from registry.ipfs.unixfs import Imported, Link, encode_node, import_bytes
from tests.api.conftest import Stack, fresh_stack
from tests.support.blocks import raw_block

LEAF = os.urandom(1024 * 1024)
BIG = os.urandom(3 * 1024 * 1024)  # 12 distinct 256 KiB leaves under one root


class Counting:
    """A real store that counts the blocks read from it."""

    def __init__(self, inner: ContentStore) -> None:
        self.inner, self.reads = inner, 0

    def put(self, imported: Imported, *, files: Mapping[str, bytes] | None = None) -> None:
        self.inner.put(imported, files=files)

    def get_block(self, cid: CID) -> bytes:
        self.reads += 1
        return self.inner.get_block(cid)

    def ping(self) -> None:
        self.inner.ping()


@contextmanager
def counting(stack: Stack) -> Iterator[Counting]:
    original = stack.runtime.store
    wrapper = Counting(original)
    stack.runtime.store = wrapper
    try:
        yield wrapper
    finally:
        stack.runtime.store = original


def repeated_leaf_dag(store: ContentStore, times: int) -> CID:
    """A file node linking one 1 MiB leaf `times` times: two blocks, `times` MiB of file."""
    leaf = CID.of(LEAF, codec=RAW)
    sizes = b"".join(b"\x20" + _varint(len(LEAF)) for _ in range(times))
    unixfs = b"\x08\x02\x18" + _varint(len(LEAF) * times) + sizes
    block = encode_node([Link(leaf, "", len(LEAF))] * times, unixfs)
    root = CID.of(block, codec=DAG_PB)
    store.put(Imported(root, 0, {str(leaf): LEAF, str(root): block}))
    return root


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(tmp_path_factory.mktemp("hostile")) as running:
        yield running


def test_a_leaf_linked_300_times_is_one_block_in_the_car(stack: Stack) -> None:
    """Before: 300 copies of the 1 MiB leaf (300 MiB). Now each block once, in pre-order."""
    root = repeated_leaf_dag(stack.runtime.store, 300)
    r = stack.client.get(f"/ipfs/{root}?format=car")
    assert r.status_code == 200
    roots, blocks = car.read(r.content)
    assert roots == [root]
    assert [cid for cid, _ in blocks] == [root, CID.of(LEAF, codec=RAW)]
    assert len(r.content) < len(LEAF) + 64 * 1024


def test_a_car_past_its_byte_cap_ends_cleanly_with_one_warning(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    imported = add_bytes(stack.runtime.store, BIG)
    resolved = gateway.resolve(stack.runtime.store, str(imported.cid), "")
    with caplog.at_level(logging.WARNING, logger="registry.gateway.service"):
        written = b"".join(gateway.car_stream(stack.runtime.store, resolved, max_bytes=1024 * 1024))
    roots, blocks = car.read(written)
    assert roots == [imported.cid] and 1 <= len(blocks) < len(imported.blocks)
    assert sum(len(b) for _, b in blocks) <= 1024 * 1024
    assert len(set(cid for cid, _ in blocks)) == len(blocks)
    assert [r.levelno for r in caplog.records if "cut" in r.getMessage()] == [logging.WARNING]


def test_a_block_missing_mid_car_ends_the_stream_without_an_exception(stack: Stack) -> None:
    store = stack.runtime.store
    assert isinstance(store, LocalBlockStore)
    data = os.urandom(600_000)
    imported = add_bytes(store, data)
    leaves = [CID.parse(c) for c in imported.blocks if CID.parse(c).codec == RAW]
    raw_block(store, leaves[-1]).unlink()
    r = stack.client.get(f"/ipfs/{imported.cid}?format=car")  # before: the app's exception reached the client
    assert r.status_code == 200
    _, blocks = car.read(r.content)
    assert leaves[-1] not in {cid for cid, _ in blocks} and len(blocks) == len(imported.blocks) - 1


def test_a_range_reads_only_the_blocks_that_hold_it(stack: Stack) -> None:
    imported = add_bytes(stack.runtime.store, BIG)
    assert len(imported.blocks) == 13
    with counting(stack) as store:
        r = stack.client.get(f"/ipfs/{imported.cid}", headers={"Range": "bytes=1000000-1000010"})
    assert r.status_code == 206 and r.content == BIG[1000000:1000011]
    assert r.headers["content-range"] == f"bytes 1000000-1000010/{len(BIG)}"
    assert store.reads <= 3, store.reads  # root, the first leaf (media type), the leaf holding the range
    with counting(stack) as store:
        first = stack.client.get(f"/ipfs/{imported.cid}", headers={"Range": "bytes=0-0"})
    assert first.content == BIG[:1] and store.reads <= 3  # of 13
    whole = stack.client.get(f"/ipfs/{imported.cid}")
    assert whole.content == BIG and whole.headers["content-length"] == str(len(BIG))


def test_head_answers_headers_without_reading_the_content(stack: Stack) -> None:
    imported = add_bytes(stack.runtime.store, BIG)
    with counting(stack) as store:
        head = stack.client.head(f"/ipfs/{imported.cid}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(BIG))  # from the root block's UnixFS filesize
    assert store.reads <= 2, store.reads
    with counting(stack) as store:
        car_head = stack.client.head(f"/ipfs/{imported.cid}?format=car")
    assert car_head.status_code == 200 and car_head.content == b""
    assert car_head.headers["content-type"].startswith("application/vnd.ipld.car")
    assert "content-length" not in car_head.headers
    assert store.reads == 1, store.reads  # the root exists; the CAR is not built
    absent = CID.of(b"never stored anywhere", codec=RAW)
    assert stack.client.head(f"/ipfs/{absent}?format=car").status_code == 404


def test_not_modified_only_for_content_the_store_holds(stack: Stack) -> None:
    absent = CID.of(b"not in this store", codec=RAW)
    for tag in ("*", f'"{absent}"', f'W/"{absent}"'):
        r = stack.client.get(f"/ipfs/{absent}", headers={"If-None-Match": tag})
        assert r.status_code == 404, tag
        assert r.headers["content-type"] == "application/problem+json"
    for suffix, tag in (("?format=raw", f'"{absent}.raw"'), ("?format=car", f'"{absent}.car.all"')):
        assert stack.client.get(f"/ipfs/{absent}{suffix}", headers={"If-None-Match": tag}).status_code == 404
    held = add_bytes(stack.runtime.store, b"held content")
    assert stack.client.get(f"/ipfs/{held.cid}", headers={"If-None-Match": "*"}).status_code == 304
    assert stack.client.get(f"/ipfs/{held.cid}", headers={"If-None-Match": f'"{held.cid}"'}).status_code == 304


def test_range_edge_cases() -> None:
    for header in ("bytes=-5", "bytes=0-0", "bytes=0-", "bytes=3-9"):
        with pytest.raises(RangeNotSatisfiable):
            gateway.byte_range(header, 0)  # an empty file has no ranges (was 206 "bytes 0--1/0")
    for header in ("bytes=1_0-20", "bytes=+5-", "bytes=5- 6", "bytes=- 5", "bytes=\u0665-", "bytes=-", "bytes=5-2"):
        assert gateway.byte_range(header, 100) is None, header  # malformed: the whole file
    assert gateway.byte_range("bytes=10-20", 100) == (10, 20)
    assert gateway.byte_range("bytes=-5", 100) == (95, 99)
    assert gateway.byte_range("bytes=90-", 100) == (90, 99)
    assert gateway.byte_range("bytes=90-1000", 100) == (90, 99)
    assert gateway.byte_range("bytes=" + "9" * 40 + "-", 100) is None


def test_an_empty_file_refuses_any_range(stack: Stack) -> None:
    empty = add_bytes(stack.runtime.store, b"")
    r = stack.client.get(f"/ipfs/{empty.cid}", headers={"Range": "bytes=-5"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */0"
    assert stack.client.get(f"/ipfs/{empty.cid}").content == b""


def test_deeply_nested_json_is_served_as_bytes_not_a_500(stack: Stack) -> None:
    nested = add_bytes(stack.runtime.store, b"[" * 200_000)
    r = stack.client.get(f"/ipfs/{nested.cid}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert gateway.media_type(b"{" * 200_000) == "application/octet-stream"
    large = b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'  # JSON, but too large to parse per request
    assert gateway.media_type(large) == "application/octet-stream"
    small = add_bytes(stack.runtime.store, b'{"name": "twin"}')
    assert stack.client.get(f"/ipfs/{small.cid}").headers["content-type"] == "application/json"


def test_the_game_client_refuses_an_oversized_download(stack: Stack) -> None:
    imported = add_bytes(stack.runtime.store, BIG)
    client = GameClient("http://testserver", "0x" + "11" * 32)
    client.http = stack.client
    with pytest.raises(ValueError, match=r"limit|more than"):
        client.fetch(f"/ipfs/{imported.cid}", limit=1024 * 1024)
    with pytest.raises(ValueError, match=r"limit|more than"):
        client.fetch(f"/ipfs/{imported.cid}", params={"format": "car"}, limit=1024 * 1024)
    assert client.fetch(f"/ipfs/{imported.cid}") == BIG


def test_the_importer_still_makes_what_the_range_reader_reads() -> None:
    """The blocksizes the reader relies on are the importer's own (CIDv0 wraps leaves in dag-pb)."""
    for version in (0, 1):
        imported = import_bytes(BIG, cid_version=version)
        blocks = imported.blocks
        store: Any = type("Mem", (), {"get_block": lambda self, c, blocks=blocks: blocks[str(c)]})()
        resolved = gateway.resolve(store, str(imported.cid), "")
        found = gateway.file(store, resolved)
        assert found.size == len(BIG)
        assert b"".join(gateway.body(store, found, 262_000, 800_000)) == BIG[262_000:800_001]
