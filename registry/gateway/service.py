"""The public content gateway, with IPFS trustless-gateway semantics: a UnixFS path resolved from a root
CID, the file's bytes (whole or a byte range), one raw block (`?format=raw`), or the DAG as a CAR
(`?format=car`). Every block is verified against its CID by the store before it is used or served,
so the gateway can only ever hand out the bytes a CID names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from registry.assets.service import sniff
from registry.errors import BadRequest, ContentIntegrityError, InvalidInput, NotFound, RangeNotSatisfiable
from registry.ipfs import car
from registry.ipfs.cid import CID, RAW
from registry.ipfs.store import ContentStore, cat
from registry.ipfs.unixfs import Node, decode_node

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_DAG_BLOCKS = 64 + MAX_FILE_BYTES // 4096  # as `cat` bounds a file's DAG
RAW_TYPE = "application/vnd.ipld.raw"
CAR_TYPE = "application/vnd.ipld.car"
Format = Literal["raw", "car"]
Scope = Literal["all", "entity", "block"]


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


def _node(store: ContentStore, cid: CID) -> Node | None:
    """The UnixFS node of a dag-pb block (None for a raw block)."""
    if cid.codec == RAW:
        return None
    try:
        return decode_node(store.get_block(cid))
    except ValueError as exc:
        raise ContentIntegrityError(f"{cid} is not a UnixFS node: {exc}") from exc


def resolve(store: ContentStore, cid_text: str, path: str) -> Resolved:
    """Walks `path` (segments of UnixFS directories) from the root CID."""
    root = parse_cid(cid_text)
    segments = tuple(s for s in path.split("/") if s)
    if any(s in (".", "..") for s in segments):
        raise BadRequest("path segments '.' and '..' are not allowed")
    current, via = root, []
    for i, name in enumerate(segments):
        node = _node(store, current)
        if node is None or node.kind != 1:
            raise NotFound(f"/{'/'.join(segments[:i])} of {root} is not a directory")
        via.append(current)
        link = next((link for link in node.links if link.name == name), None)
        if link is None:
            raise NotFound(f"{root} has no /{'/'.join(segments[: i + 1])}")
        current = link.cid
    return Resolved(root, current, segments, tuple(via))


def format_of(query: str | None, accept: str | None) -> Format | None:
    """`?format=` wins; otherwise an `Accept` naming a trustless type (the spec's two ways to ask)."""
    if query is not None:
        if query not in ("raw", "car"):
            raise BadRequest(f"format {query!r} is not served here (raw, car)")
        return query  # type: ignore[return-value]
    accepted = [part.split(";")[0].strip() for part in (accept or "").split(",")]
    if RAW_TYPE in accepted:
        return "raw"
    if CAR_TYPE in accepted:
        return "car"
    return None


def raw_block(store: ContentStore, resolved: Resolved) -> bytes:
    return store.get_block(resolved.cid)


def car_stream(store: ContentStore, resolved: Resolved, scope: str = "all") -> Iterator[bytes]:
    """The CAR of a resolved path: the directories walked, then the DAG under the path's end in
    depth-first pre-order (`dag-scope=block`: the end's own block only). Blocks are read (and verified)
    as the stream is written; the walk is bounded like `cat`'s."""
    if scope not in ("all", "entity", "block"):
        raise BadRequest(f"dag-scope {scope!r} is not one of all, entity, block")

    def blocks() -> Iterator[tuple[CID, bytes]]:
        for cid in resolved.via:
            yield cid, store.get_block(cid)
        stack, seen = [resolved.cid], 0
        while stack:
            cid = stack.pop()
            seen += 1
            if seen > MAX_DAG_BLOCKS:
                raise ContentIntegrityError(f"{resolved.cid} is a DAG of more than {MAX_DAG_BLOCKS} blocks")
            block = store.get_block(cid)
            yield cid, block
            if scope == "block" or cid.codec == RAW:
                continue
            try:
                node = decode_node(block)
            except ValueError as exc:
                raise ContentIntegrityError(f"{cid} is not a UnixFS node: {exc}") from exc
            if scope == "entity" and node.kind == 1:
                continue  # entity scope: a directory is its own block, not the files below its entries
            stack.extend(reversed([link.cid for link in node.links]))

    return car.write([resolved.root], blocks())


@dataclass(frozen=True)
class File:
    data: bytes
    media_type: str


def file(store: ContentStore, resolved: Resolved) -> File:
    """A UnixFS file's bytes with a media type read from the bytes (never `text/html`: content served
    from the service's own origin must not run as a page), or a directory's listing as JSON."""
    node = _node(store, resolved.cid)
    if node is not None and node.kind == 1:
        listing = [{"name": link.name, "cid": str(link.cid), "size": link.tsize} for link in node.links]
        return File(json.dumps({"entries": listing}).encode(), "application/json")
    data = cat(store, resolved.cid, limit=MAX_FILE_BYTES)
    return File(data, media_type(data))


def media_type(data: bytes) -> str:
    try:
        return sniff(data)
    except InvalidInput:
        pass
    if data[:1] in (b"{", b"["):
        try:
            json.loads(data)
            return "application/json"
        except ValueError:
            pass
    return "application/octet-stream"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range (first, last byte inclusive) a `Range: bytes=...` header asks for, or None for the
    whole file (no header, another unit, or several ranges: RFC 9110 lets a server answer those whole).
    A range outside the file: RangeNotSatisfiable."""
    if not header or not header.strip().startswith("bytes="):
        return None
    spec = header.strip()[len("bytes=") :]
    if "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    try:
        if not dash:
            raise ValueError
        if first == "":  # suffix: the last N bytes
            n = int(last)
            if n <= 0:
                raise RangeNotSatisfiable(f"empty suffix range of a {size}-byte file", size=size)
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None  # malformed: ignored, as RFC 9110 says
    if start >= size:
        raise RangeNotSatisfiable(f"range starts at {start}, beyond the {size}-byte file", size=size)
    if start < 0 or end < start:
        return None
    return start, min(end, size - 1)
