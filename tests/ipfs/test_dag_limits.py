"""A crafted DAG cannot make the reader fetch without end: the number of blocks a read may visit is
bounded by what a file of the allowed size needs, and so is the size of a single raw block."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.errors import ContentIntegrityError
from registry.ipfs.cid import CID, DAG_PB, RAW
from registry.ipfs.store import LocalBlockStore, cat
from registry.ipfs.unixfs import Imported, Link, encode_node, import_bytes

FILE = 2


def _field(number: int, value: int) -> bytes:
    out, n = bytearray([number << 3]), value
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def fan_out(store: LocalBlockStore, copies: int) -> CID:
    """A file node linking `copies` times to one 1-byte raw block: tiny in bytes, huge in fetches."""
    leaf = b"x"
    leaf_cid = CID.of(leaf, codec=RAW)
    data = _field(1, FILE) + _field(3, copies) + b"".join(_field(4, 1) for _ in range(copies))
    root_block = encode_node([Link(leaf_cid, "", 1)] * copies, data)
    root = CID.of(root_block, codec=DAG_PB)
    store.put(Imported(root, len(root_block), {str(root): root_block, str(leaf_cid): leaf}))
    return root


def test_a_fan_out_dag_within_the_byte_limit_is_refused_by_its_block_count(tmp_path: Path) -> None:
    store = LocalBlockStore(tmp_path)
    small = fan_out(store, 100)
    assert cat(store, small, limit=1024 * 1024) == b"x" * 100  # an honest small DAG still reads
    crafted = fan_out(store, 5_000)  # 5,000 bytes, far under 1 MiB, but 5,001 fetches
    with pytest.raises(ContentIntegrityError, match="more than 320 blocks"):
        cat(store, crafted, limit=1024 * 1024)


def test_real_files_read_whole(tmp_path: Path) -> None:
    store = LocalBlockStore(tmp_path)
    data = bytes(range(256)) * 8 * 1024  # 2 MiB: 8 chunks and a root
    imported = import_bytes(data)
    store.put(imported)
    assert cat(store, imported.cid, limit=len(data)) == data


def test_an_oversized_raw_block_is_refused(tmp_path: Path) -> None:
    store = LocalBlockStore(tmp_path)
    imported = import_bytes(b"y" * 2000)  # one raw block
    store.put(imported)
    assert imported.cid.codec == RAW
    with pytest.raises(ContentIntegrityError, match="larger than 1000 bytes"):
        cat(store, imported.cid, limit=1000)
