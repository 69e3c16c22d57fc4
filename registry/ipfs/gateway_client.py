"""Blocks from any IPFS gateway that speaks the trustless-gateway API (`/ipfs/{cid}?format=raw`): this
service's own, a public one, or a js-ipfs or Kubo node's. Nothing the gateway says is trusted: each
block is hashed here and compared with the CID that named it."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from registry.errors import ContentIntegrityError, ContentNotFound, ContentUnavailable
from registry.ipfs.cid import CID
from registry.ipfs.unixfs import Imported

MAX_BLOCK_BYTES = 4 * 1024 * 1024  # the trustless-gateway spec's blocks are at most 2 MiB; a margin


class GatewayStore:
    """A read-only content store over a trustless gateway (`base` is the URL before `/ipfs/`)."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        root = base.rstrip("/")
        self.prefix = root if root.endswith("/ipfs") else root + "/ipfs"
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)

    def get_block(self, cid: CID) -> bytes:
        url = f"{self.prefix}/{cid}"
        try:
            with self._client.stream(
                "GET", url, params={"format": "raw"}, headers={"Accept": "application/vnd.ipld.raw"}
            ) as response:
                if response.status_code == 404:
                    raise ContentNotFound(f"{cid}: the gateway has no such block")
                if response.status_code != 200:
                    raise ContentUnavailable(f"{cid}: the gateway answered {response.status_code}")
                block = bytearray()
                for chunk in response.iter_bytes():
                    block += chunk
                    if len(block) > MAX_BLOCK_BYTES:
                        raise ContentIntegrityError(f"{cid}: the gateway sent more than {MAX_BLOCK_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise ContentUnavailable(f"{cid}: gateway unreachable ({type(exc).__name__})") from None
        if not cid.verify(bytes(block)):
            raise ContentIntegrityError(f"content served for {cid} does not hash to that CID")
        return bytes(block)

    def put(self, imported: Imported, *, files: Mapping[str, bytes] | None = None) -> None:
        raise ContentUnavailable("a gateway is read-only")

    def ping(self) -> None:
        """Gateways have no common health route; the first block read tells."""

    def close(self) -> None:
        self._client.close()
