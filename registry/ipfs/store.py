"""Content stores: a local block store (the embedded default) and Kubo's RPC API over httpx.

Both hold the same blocks under the same CIDs. Every read is verified against its CID before it is
trusted, block by block, so neither a corrupt disk nor a lying IPFS node can feed us other bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx

from registry.errors import ContentIntegrityError, ContentNotFound, ContentUnavailable
from registry.ipfs.blockstore import FileBlockStore, LocalBlockStore, verified
from registry.ipfs.cid import CID, RAW
from registry.ipfs.unixfs import Imported, decode_node, import_bytes, import_directory
from registry.metrics import record as metrics

__all__ = ["ContentStore", "FileBlockStore", "KuboStore", "LocalBlockStore", "add_bytes", "add_directory", "cat"]


class ContentStore(Protocol):
    def put(self, imported: Imported, *, files: Mapping[str, bytes] | None = None) -> None:
        """Stores (and pins) every block of an import."""

    def get_block(self, cid: CID) -> bytes:
        """The block named by `cid`, verified; raises ContentUnavailable / ContentIntegrityError."""

    def ping(self) -> None:
        """Raises ContentUnavailable when the store cannot be used."""


class KuboStore:
    """Kubo RPC API (`/api/v0/add`, `/block/get`, `/pin/add`); also spoken by js-ipfs."""

    LOCAL_TIMEOUT = 2.0  # seconds a local-only block read may take (a held block is read in far less)

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/") + "/api/v0", timeout=timeout)
        self._local = False
        self._local_view: KuboStore | None = None

    def local_only(self) -> KuboStore:
        """The same node, reading only blocks it already holds: what a public gateway must do, or any
        random CID would send the node (and one of our threads) searching the IPFS network. Kubo honours
        `offline=true`; js-ipfs ignores it, so a short `timeout=` ends the search there too."""
        if self._local:
            return self
        if self._local_view is None:
            view = KuboStore.__new__(KuboStore)
            view._client, view._local, view._local_view = self._client, True, None
            self._local_view = view
        return self._local_view

    def _post(self, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._client.post(path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise ContentUnavailable(f"IPFS node unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ContentUnavailable(f"IPFS node answered {response.status_code} to {path}: {response.text[:200]}")
        return response

    def add(self, files: Mapping[str, bytes], *, cid_version: int = 1, wrap: bool = False) -> str:
        """`ipfs add` of one file or (with `wrap`) a flat directory; returns the root CID Kubo made."""
        params = {"cid-version": str(cid_version), "pin": "true", "cid-base": "base32" if cid_version else "base58btc"}
        if wrap:
            params["wrap-with-directory"] = "true"
        if cid_version == 1:
            params["raw-leaves"] = "true"
        multipart = [("file", (name, data, "application/octet-stream")) for name, data in files.items()]
        response = self._post("/add", params=params, files=multipart)
        lines = [line for line in response.text.splitlines() if line.strip()]
        return str(httpx.Response(200, content=lines[-1]).json()["Hash"])

    def put(self, imported: Imported, *, files: Mapping[str, bytes] | None = None) -> None:
        """Adds through Kubo's own importer and checks it made the very CID we computed."""
        if files is None:
            raise ValueError("KuboStore.put needs the original files")
        if len(files) == 1 and "" in files:
            made = self.add({"blob": files[""]}, cid_version=imported.cid.version)
        else:
            made = self.add(files, cid_version=imported.cid.version, wrap=True)
        if CID.parse(made) != CID.parse(str(imported.cid)):
            metrics.integrity_failure("kubo")
            raise ContentIntegrityError(f"IPFS node made {made} where the importer made {imported.cid}")
        metrics.content("write", "kubo", len(imported.blocks))

    def get_block(self, cid: CID) -> bytes:
        if not self._local:
            return verified(cid, self._post("/block/get", params={"arg": str(cid)}).content, "kubo")
        params = {"arg": str(cid), "offline": "true", "timeout": f"{self.LOCAL_TIMEOUT:g}s"}
        try:
            response = self._client.post("/block/get", params=params, timeout=self.LOCAL_TIMEOUT + 5)
        except httpx.HTTPError as exc:
            raise ContentUnavailable(f"IPFS node unreachable ({type(exc).__name__})") from None
        if response.status_code == 200:
            return verified(cid, response.content, "kubo")
        message = response.text[:200].lower()
        if response.status_code == 500 and ("not found" in message or "timed out" in message):
            # Kubo: "block was not found locally (offline)"; js-ipfs: "request timed out".
            raise ContentNotFound(f"{cid} is not held by the IPFS node")
        raise ContentUnavailable(f"IPFS node answered {response.status_code} to /block/get: {response.text[:200]}")

    def pin(self, cid: CID) -> None:
        self._post("/pin/add", params={"arg": str(cid)})

    def ping(self) -> None:
        self._post("/id")

    def addresses(self) -> list[str]:
        """The multiaddrs the node announces (`/id`), each ending in /p2p/<peer id>: where a remote
        pinning service can fetch the content from (`origins`)."""
        body = self._post("/id").json()
        peer = str(body.get("ID") or "")
        found = [str(a) for a in body.get("Addresses") or [] if isinstance(a, str)]
        return [a if "/p2p/" in a else f"{a}/p2p/{peer}" for a in found if peer or "/p2p/" in a]


# ---------------------------------------------------------------- store-agnostic helpers


def local_only(store: ContentStore) -> ContentStore:
    """`store`, reading only what it holds (a Kubo node's local view; local stores already are)."""
    return store.local_only() if isinstance(store, KuboStore) else store


def add_bytes(store: ContentStore, data: bytes) -> Imported:
    imported = import_bytes(data)
    store.put(imported, files={"": data})
    return imported


def add_directory(store: ContentStore, files: Mapping[str, bytes]) -> Imported:
    imported = import_directory(files)
    store.put(imported, files=files)
    return imported


def cat(store: ContentStore, cid: CID, *, limit: int = 64 * 1024 * 1024) -> bytes:
    """A UnixFS file's bytes, every block verified; ContentIntegrityError on malformed DAGs, on more than
    `limit` bytes, and on a DAG of more blocks than a file of `limit` bytes needs (a crafted DAG of tiny
    or repeated blocks would otherwise make the reader fetch without end while staying under `limit`)."""
    max_blocks = 64 + limit // 4096  # importers cut 256 KiB chunks: real files need far fewer
    if cid.codec == RAW:
        block = store.get_block(cid)
        if len(block) > limit:
            raise ContentIntegrityError(f"{cid} is larger than {limit} bytes")
        return block
    out = bytearray()
    stack = [cid]
    fetched = 0
    while stack:
        current = stack.pop()
        fetched += 1
        if fetched > max_blocks:
            raise ContentIntegrityError(f"{cid} is a DAG of more than {max_blocks} blocks")
        block = store.get_block(current)
        if current.codec == RAW:
            out += block
        else:
            try:
                node = decode_node(block)
            except ValueError as exc:
                raise ContentIntegrityError(f"{current} is not a UnixFS node: {exc}") from exc
            if node.kind != 2:
                raise ContentIntegrityError(f"{current} is not a file")
            out += node.data
            stack.extend(reversed([link.cid for link in node.links]))
        if len(out) > limit:
            raise ContentIntegrityError(f"{cid} is larger than {limit} bytes")
    return bytes(out)


def directory_entries(store: ContentStore, directory: CID) -> dict[str, CID]:
    """The links of a UnixFS directory, by name."""
    try:
        node = decode_node(store.get_block(directory))
    except ValueError as exc:
        raise ContentIntegrityError(f"{directory} is not a UnixFS directory: {exc}") from exc
    if node.kind != 1:
        raise ContentIntegrityError(f"{directory} is not a directory")
    return {link.name: link.cid for link in node.links}


def directory_entry(store: ContentStore, directory: CID, name: str) -> CID:
    """The CID linked as `name` in a UnixFS directory."""
    found = directory_entries(store, directory).get(name)
    if found is None:
        raise ContentUnavailable(f"{directory} has no entry {name!r}")
    return found
