"""The public content gateway, with IPFS trustless-gateway semantics: a UnixFS path resolved from a root
CID, the file's bytes (whole or a byte range), one raw block (`?format=raw`), or the DAG as a CAR
(`?format=car`). Every block is verified against its CID by the store before it is used or served,
so the gateway can only ever hand out the bytes a CID names."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from cachetools import LRUCache

from registry.errors import BadRequest, ContentIntegrityError, NotFound, RangeNotSatisfiable, TwinmarkError
from registry.gateway.files import MAX_DAG_BLOCKS, MAX_FILE_BYTES, Opened, open_file, read_range, sniff_file
from registry.gateway.files import media_type as media_type
from registry.ipfs import car
from registry.ipfs.cid import CID, RAW
from registry.ipfs.store import ContentStore, local_only
from registry.ipfs.unixfs import Node, decode_node

log = logging.getLogger(__name__)

MAX_CAR_BYTES = MAX_FILE_BYTES + 8 * 1024 * 1024  # a largest file's blocks, its DAG's nodes, CAR framing
BUFFERED_BYTES = 8 * 1024 * 1024  # answers up to this are read whole first (a failure is then a problem)
RAW_TYPE = "application/vnd.ipld.raw"
CAR_TYPE = "application/vnd.ipld.car"
Format = Literal["raw", "car"]
Scope = Literal["all", "entity", "block"]


def serving_store(store: ContentStore) -> ContentStore:
    """The store as the public gateway reads it: only blocks it holds, never a search of the network."""
    return local_only(store)


@dataclass(frozen=True)
class Resolved:
    root: CID
    cid: CID  # the CID the path ends at
    path: tuple[str, ...]
    via: tuple[CID, ...]  # the directories walked, root first (a CAR of a path carries them)


def parse_cid(text: str) -> CID:
    try:
        return CID.parse(text)
    except ValueError as exc:
        raise BadRequest(f"{text!r} is not a CID this gateway serves: {exc}") from None


def _decode(cid: CID, block: bytes) -> Node:
    try:
        return decode_node(block)
    except ValueError as exc:
        raise ContentIntegrityError(f"{cid} is not a UnixFS node: {exc}") from exc


def _node(store: ContentStore, cid: CID) -> Node | None:
    """The UnixFS node of a dag-pb block (None for a raw block)."""
    return None if cid.codec == RAW else _decode(cid, store.get_block(cid))


# Decoded directories by CID: a batch directory is one block of up to 4,096 links, and every twin's
# metadata path walks it; decoding it in Python per request cost ~10 ms. A CID names immutable bytes,
# verified when the block was read, so an entry holds for good (the LRU bounds memory).
_DIRECTORIES: LRUCache[CID, dict[str, CID] | None] = LRUCache(64)
_DIRECTORIES_LOCK = threading.Lock()


def _entries(store: ContentStore, cid: CID) -> dict[str, CID] | None:
    """A directory's links by name; None when `cid` is not a directory."""
    with _DIRECTORIES_LOCK:
        if cid in _DIRECTORIES:
            return _DIRECTORIES[cid]
    node = _node(store, cid)
    entries = {link.name: link.cid for link in node.links} if node is not None and node.kind == 1 else None
    with _DIRECTORIES_LOCK:
        _DIRECTORIES[cid] = entries
    return entries


def resolve(store: ContentStore, cid_text: str, path: str) -> Resolved:
    """Walks `path` (segments of UnixFS directories) from the root CID."""
    root = parse_cid(cid_text)
    segments = tuple(s for s in path.split("/") if s)
    if any(s in (".", "..") for s in segments):
        raise BadRequest("path segments '.' and '..' are not allowed")
    current, via = root, []
    for i, name in enumerate(segments):
        entries = _entries(store, current)
        if entries is None:
            raise NotFound(f"/{'/'.join(segments[:i])} of {root} is not a directory")
        via.append(current)
        found = entries.get(name)
        if found is None:
            raise NotFound(f"{root} has no /{'/'.join(segments[: i + 1])}")
        current = found
    return Resolved(root, current, segments, tuple(via))


def format_of(query: str | None, accepted: Sequence[tuple[str, float]]) -> Format | None:
    """`?format=` wins (the spec: it takes precedence over `Accept`); otherwise the trustless type the
    client weighs highest in `Accept` (`accepted`: its (media type, q) pairs, best first, q=0 already
    dropped: "not acceptable"). Neither named: the file itself (RFC 9110 lets a server answer a type
    outside the list rather than 406)."""
    if query is not None:
        if query not in ("raw", "car"):
            raise BadRequest(f"format {query!r} is not served here (raw, car)")
        return query  # type: ignore[return-value]
    for media, _ in accepted:
        media = media.lower()  # media types are case-insensitive; a wildcard asks for no trustless type
        if media == RAW_TYPE:
            return "raw"
        if media == CAR_TYPE:
            return "car"
    return None


def raw_block(store: ContentStore, resolved: Resolved) -> bytes:
    return store.get_block(resolved.cid)


def car_stream(
    store: ContentStore,
    resolved: Resolved,
    scope: str = "all",
    *,
    max_bytes: int = MAX_CAR_BYTES,
    max_blocks: int = MAX_DAG_BLOCKS,
) -> Iterator[bytes]:
    """The CAR of a resolved path: the directories walked, then the DAG under the path's end in
    depth-first pre-order (`dag-scope=block`: the end's own block only), each block once. Blocks are
    read (and verified) as the stream is written. A DAG past `max_blocks` visits or `max_bytes` of
    blocks ends the CAR there, with one warning: it cannot be a file this gateway serves."""
    if scope not in ("all", "entity", "block"):
        raise BadRequest(f"dag-scope {scope!r} is not one of all, entity, block")

    def blocks() -> Iterator[tuple[CID, bytes]]:
        sent: set[CID] = set()
        written = visits = 0
        stack = [resolved.cid, *reversed(resolved.via)]
        while stack:
            cid = stack.pop()
            visits += 1
            if visits + len(stack) > max_blocks:
                log.warning("CAR of %s cut: a DAG of more than %d blocks", resolved.cid, max_blocks)
                return
            if cid in sent:
                continue  # a block linked many times is in the CAR once
            block = store.get_block(cid)
            written += len(block)
            if written > max_bytes:
                log.warning("CAR of %s cut: more than %d bytes of blocks", resolved.cid, max_bytes)
                return
            sent.add(cid)
            yield cid, block
            if cid in resolved.via or scope == "block" or cid.codec == RAW:
                continue
            node = _decode(cid, block)
            if scope == "entity" and node.kind == 1:
                continue  # entity scope: a directory is its own block, not the files below its entries
            stack.extend(reversed([link.cid for link in node.links if link.cid not in sent]))

    return car.write([resolved.root], blocks())


def guarded(stream: Iterator[bytes], what: str) -> Iterator[bytes]:
    """A body already under way: a failure ends it (the client sees a short answer) with one warning,
    not a traceback per request."""
    try:
        yield from stream
    except TwinmarkError as exc:
        log.warning("%s cut short: %s", what, exc)


@dataclass(frozen=True)
class File:
    """A file ready to serve: its size and media type known from its first blocks, or (a directory)
    its listing as JSON in `listing`."""

    opened: Opened
    media_type: str
    listing: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.listing) if self.listing is not None else self.opened.size


def file(store: ContentStore, resolved: Resolved) -> File:
    """A UnixFS file's size and media type (never `text/html`: content served from the service's own
    origin must not run as a page), or a directory's listing as JSON. Reads the root block and, for
    small files, the rest (to tell JSON apart); larger files only their first bytes."""
    root_block = store.get_block(resolved.cid)
    if resolved.cid.codec != RAW:
        node = _decode(resolved.cid, root_block)
        if node.kind == 1:
            listing = [{"name": link.name, "cid": str(link.cid), "size": link.tsize} for link in node.links]
            data = json.dumps({"entries": listing}).encode()
            return File(Opened(resolved.cid, len(data), root_block), "application/json", data)
    opened = open_file(store, resolved.cid, root_block)
    return File(opened, sniff_file(store, opened))


def body(store: ContentStore, found: File, first: int, last: int) -> Iterator[bytes]:
    """Bytes `first`..`last` of the file (or listing), reading only the blocks that hold them."""
    if found.listing is not None:
        yield found.listing[first : last + 1]
        return
    yield from read_range(store, found.opened, first, last)


_RANGE = re.compile(r"([0-9]{0,30})-([0-9]{0,30})")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range (first, last byte inclusive) a `Range: bytes=...` header asks for, or None for the
    whole file (no header, another unit, several ranges, or a malformed one: RFC 9110 lets a server
    answer those whole). A range outside the file, or any range of an empty file: RangeNotSatisfiable."""
    if not header or not header.strip().startswith("bytes="):
        return None
    spec = header.strip()[len("bytes=") :].strip()
    match = _RANGE.fullmatch(spec)  # ASCII digits only: int() would also take "1_0", "+5", " 5"
    if match is None or match.group(0) == "-":
        return None
    first, last = match.groups()
    if first and last and int(last) < int(first):
        return None  # invalid: ignored, as RFC 9110 says
    if size == 0:
        raise RangeNotSatisfiable("an empty file has no byte ranges", size=size)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            raise RangeNotSatisfiable(f"empty suffix range of a {size}-byte file", size=size)
        return max(0, size - n), size - 1
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable(f"range starts at {start}, beyond the {size}-byte file", size=size)
    return start, (min(int(last), size - 1) if last else size - 1)
