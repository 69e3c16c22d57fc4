"""A UnixFS importer that yields Kubo's CIDs, and the reader for the DAGs it makes.

Kubo defaults: fixed 256 KiB chunks, balanced layout, at most 174 links per node, sha2-256.
CIDv1 implies raw leaves (a small file is a single `raw` block); CIDv0 (and CIDv1 without raw
leaves) wraps every chunk in a dag-pb node. Directories are single dag-pb nodes with links sorted
by name (Twinmark keeps batch directories at most 4,096 entries, so never HAMT-sharded).

dag-pb and UnixFS are tiny protobuf schemas; they are encoded here by hand in the canonical order
(PBNode: Links before Data; PBLink: Hash, Name, Tsize) because byte-exact output is the whole point.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from registry.ipfs.cid import CID, DAG_PB, RAW
from registry.ipfs.varint import encode_varint, read_varint

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174
_FILE, _DIRECTORY = 2, 1


def _field_bytes(number: int, value: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value


def _field_varint(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value)


@dataclass(frozen=True)
class Link:
    cid: CID
    name: str
    tsize: int  # bytes of the whole sub-DAG, as Kubo counts them

    def encode(self) -> bytes:
        return _field_bytes(1, self.cid.to_bytes()) + _field_bytes(2, self.name.encode()) + _field_varint(3, self.tsize)


def encode_node(links: list[Link], data: bytes) -> bytes:
    """A dag-pb PBNode."""
    return b"".join(_field_bytes(2, link.encode()) for link in links) + _field_bytes(1, data)


def _unixfs(
    kind: int, data: bytes | None = None, filesize: int | None = None, blocksizes: tuple[int, ...] = ()
) -> bytes:
    out = _field_varint(1, kind)
    if data:
        out += _field_bytes(2, data)
    if filesize is not None:
        out += _field_varint(3, filesize)
    for size in blocksizes:
        out += _field_varint(4, size)
    return out


@dataclass
class Imported:
    """The root CID of an import and every block it made (CID text -> bytes)."""

    cid: CID
    size: int  # Tsize of the root: bytes of all blocks of the DAG
    blocks: dict[str, bytes] = field(default_factory=dict)
    filesize: int = 0


def import_bytes(data: bytes, *, cid_version: int = 1, raw_leaves: bool | None = None) -> Imported:
    """Imports a file exactly as `ipfs add` with default chunker and layout does."""
    raw = (cid_version == 1) if raw_leaves is None else raw_leaves
    if raw and cid_version == 0:
        raise ValueError("raw leaves need CIDv1")
    blocks: dict[str, bytes] = {}
    # Each layer item: (cid, tsize, filesize of the sub-DAG)
    layer: list[tuple[CID, int, int]] = []
    chunks = [data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)] or [b""]
    for chunk in chunks:
        if raw:
            block = chunk
            cid = CID.of(block, codec=RAW, version=1)
        else:
            block = encode_node([], _unixfs(_FILE, chunk, len(chunk)))
            cid = CID.of(block, codec=DAG_PB, version=cid_version)
        blocks[str(cid)] = block
        layer.append((cid, len(block), len(chunk)))
    while len(layer) > 1:
        parents: list[tuple[CID, int, int]] = []
        for i in range(0, len(layer), MAX_LINKS):
            group = layer[i : i + MAX_LINKS]
            links = [Link(cid, "", tsize) for cid, tsize, _ in group]
            sizes = tuple(fs for _, _, fs in group)
            block = encode_node(links, _unixfs(_FILE, None, sum(sizes), sizes))
            cid = CID.of(block, codec=DAG_PB, version=cid_version)
            blocks[str(cid)] = block
            parents.append((cid, len(block) + sum(t for _, t, _ in group), sum(sizes)))
        layer = parents
    root, tsize, filesize = layer[0]
    return Imported(root, tsize, blocks, filesize)


def file_cid(data: bytes) -> str:
    """The CID text `import_bytes(data)` gives its root (CIDv1, raw leaves), without building its blocks:
    a file of one chunk is its own raw block. The mint records one per twin."""
    if len(data) <= CHUNK_SIZE:
        return str(CID.of(data, codec=RAW, version=1))
    return str(import_bytes(data).cid)


def import_directory(files: Mapping[str, bytes], *, cid_version: int = 1, raw_leaves: bool | None = None) -> Imported:
    """Imports a flat directory of files (name -> bytes) as `ipfs add -r` / `-w` does."""
    if len(files) > 4096:
        raise ValueError("a directory holds at most 4,096 entries here (no HAMT sharding)")
    blocks: dict[str, bytes] = {}
    links = []
    for name in sorted(files, key=lambda n: n.encode()):
        if not name or "/" in name:
            raise ValueError(f"invalid file name {name!r}")
        child = import_bytes(files[name], cid_version=cid_version, raw_leaves=raw_leaves)
        blocks.update(child.blocks)
        links.append(Link(child.cid, name, child.size))
    block = encode_node(links, _unixfs(_DIRECTORY))
    cid = CID.of(block, codec=DAG_PB, version=cid_version)
    blocks[str(cid)] = block
    return Imported(cid, len(block) + sum(link.tsize for link in links), blocks)


# ---------------------------------------------------------------- reading


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated protobuf field")
            yield number, buf[pos : pos + length]
            pos += length
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")


@dataclass
class Node:
    links: list[Link]
    kind: int  # UnixFS type: 1 directory, 2 file
    data: bytes
    filesize: int | None = None  # UnixFS field 3: bytes of the whole file under this node
    blocksizes: tuple[int, ...] = ()  # UnixFS field 4: file bytes under each link, in link order


def decode_node(block: bytes) -> Node:
    """Parses a dag-pb block carrying UnixFS data; ValueError when malformed."""
    links: list[Link] = []
    unixfs = b""
    for number, value in _fields(block):
        if number == 2 and isinstance(value, bytes):
            cid, name, tsize = None, "", 0
            for n, v in _fields(value):
                if n == 1 and isinstance(v, bytes):
                    cid = CID.from_bytes(v)
                elif n == 2 and isinstance(v, bytes):
                    name = v.decode()
                elif n == 3 and isinstance(v, int):
                    tsize = v
            if cid is None:
                raise ValueError("dag-pb link without a hash")
            links.append(Link(cid, name, tsize))
        elif number == 1 and isinstance(value, bytes):
            unixfs = value
    kind, data, filesize, blocksizes = 0, b"", None, []
    for number, value in _fields(unixfs):
        if number == 1 and isinstance(value, int):
            kind = value
        elif number == 2 and isinstance(value, bytes):
            data = value
        elif number == 3 and isinstance(value, int):
            filesize = value
        elif number == 4 and isinstance(value, int):
            blocksizes.append(value)
    return Node(links, kind, data, filesize, tuple(blocksizes))
