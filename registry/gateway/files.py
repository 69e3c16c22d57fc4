"""UnixFS files as the gateway serves them: the size from the root block alone, and any byte range
read from only the blocks that hold it (UnixFS `blocksizes`, field 4, say how many file bytes sit
under each link), so neither a `Range: bytes=0-0` nor a HEAD reads a whole file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from registry.assets.service import loads_json, sniff
from registry.errors import ContentIntegrityError, InvalidInput
from registry.ipfs.cid import CID, RAW
from registry.ipfs.store import ContentStore
from registry.ipfs.unixfs import Node, decode_node

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_DAG_BLOCKS = 64 + MAX_FILE_BYTES // 4096  # as `cat` bounds a file's DAG
JSON_SNIFF_BYTES = 1024 * 1024  # larger files are never parsed to tell JSON apart
PREFIX_BYTES = 64  # enough for every signature `sniff` knows


@dataclass(frozen=True)
class Opened:
    """A file whose root block has been read (and verified): its size and the root's bytes."""

    cid: CID
    size: int
    root_block: bytes


def _decode(cid: CID, block: bytes) -> Node:
    try:
        return decode_node(block)
    except ValueError as exc:
        raise ContentIntegrityError(f"{cid} is not a UnixFS node: {exc}") from exc


def _node_size(cid: CID, node: Node) -> int:
    if node.kind != 2:
        raise ContentIntegrityError(f"{cid} is not a file")
    if node.links and len(node.blocksizes) != len(node.links):
        raise ContentIntegrityError(f"{cid} does not give the size of each of its links")
    size = len(node.data) + sum(node.blocksizes)
    if node.filesize is not None and node.filesize != size:
        raise ContentIntegrityError(f"{cid} declares {node.filesize} bytes but its parts hold {size}")
    return size


def open_file(store: ContentStore, cid: CID, root_block: bytes) -> Opened:
    """The size of the file rooted at `cid` (its verified root block given), from that block alone."""
    size = len(root_block) if cid.codec == RAW else _node_size(cid, _decode(cid, root_block))
    if size > MAX_FILE_BYTES:
        raise ContentIntegrityError(f"{cid} is larger than {MAX_FILE_BYTES} bytes")
    return Opened(cid, size, root_block)


def read_range(store: ContentStore, opened: Opened, first: int, last: int) -> Iterator[bytes]:
    """Bytes `first`..`last` (inclusive) of the file, block by block, reading only the blocks that hold
    them; each block is verified, and each part's length must be the one its parent declares."""
    if last < first:
        return
    stack: list[tuple[CID, int, int, bytes | None]] = [(opened.cid, 0, opened.size, opened.root_block)]
    fetched = 0
    while stack:
        cid, start, length, block = stack.pop()
        if block is None:
            fetched += 1
            if fetched > MAX_DAG_BLOCKS:
                raise ContentIntegrityError(f"{opened.cid} is a DAG of more than {MAX_DAG_BLOCKS} blocks")
            block = store.get_block(cid)
        if cid.codec == RAW:
            if len(block) != length:
                raise ContentIntegrityError(f"{cid} holds {len(block)} bytes where its parent says {length}")
            yield block[max(first - start, 0) : last - start + 1]
            continue
        node = _decode(cid, block)
        if _node_size(cid, node) != length:
            raise ContentIntegrityError(f"{cid} holds a size other than its parent says ({length})")
        data_end = start + len(node.data)
        if node.data and first < data_end and last >= start:
            yield node.data[max(first - start, 0) : last - start + 1]
        children, offset = [], data_end
        for link, size in zip(node.links, node.blocksizes, strict=True):
            if size and offset <= last and offset + size > first:
                children.append((link.cid, offset, size, None))
            offset += size
        stack.extend(reversed(children))


def media_type(data: bytes, size: int | None = None) -> str:
    """The type read from a file's first bytes (`data`; `size`: the whole file's, when `data` is only
    its start). JSON only for a small file read whole: telling it apart means parsing all of it."""
    try:
        return sniff(data[:PREFIX_BYTES])
    except InvalidInput:
        pass
    whole = size is None or size == len(data)
    if whole and len(data) <= JSON_SNIFF_BYTES and data[:1] in (b"{", b"["):
        try:
            loads_json(data)  # deep nesting is refused before parsing (it would crash the process)
            return "application/json"
        except ValueError:
            pass
    return "application/octet-stream"


def sniff_file(store: ContentStore, opened: Opened) -> str:
    """The media type of an opened file: its whole bytes when small, else its first bytes."""
    wanted = opened.size if opened.size <= JSON_SNIFF_BYTES else PREFIX_BYTES
    return media_type(b"".join(read_range(store, opened, 0, wanted - 1)), opened.size)
