"""The Kubo RPC client against a real IPFS daemon: both stores make the same CIDs, and every read
is verified against its CID before it is trusted."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from registry.errors import ContentIntegrityError
from registry.ipfs.cid import CID
from registry.ipfs.store import KuboStore, LocalBlockStore, add_bytes, add_directory, cat, directory_entry
from registry.ipfs.unixfs import import_bytes, import_directory
from tests.ipfs.test_unixfs_vectors import VECTORS, det, dir_files
from tests.support.blocks import raw_block


@pytest.fixture(scope="module")
def kubo(ipfs_daemon: str) -> KuboStore:
    return KuboStore(ipfs_daemon)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world\n", det(262_145), det(1_000_000), bytes(600_000)],
    ids=["empty", "hello", "two-chunks", "1MB", "zeros"],
)
@pytest.mark.parametrize("version", [0, 1])
def test_daemon_and_importer_make_the_same_file_cids(kubo: KuboStore, data: bytes, version: int) -> None:
    assert kubo.add({"f": data}, cid_version=version) == str(import_bytes(data, cid_version=version).cid)


@pytest.mark.parametrize("version", [0, 1])
def test_daemon_and_importer_make_the_same_directory_cids(kubo: KuboStore, version: int) -> None:
    files = dir_files("dir_small")
    expected = next(
        v["cid"] for v in VECTORS["directories"] if v["data"] == "dir_small" and v["cid_version"] == version
    )
    assert (
        kubo.add(files, cid_version=version, wrap=True)
        == str(import_directory(files, cid_version=version).cid)
        == expected
    )


def test_a_batch_directory_round_trips_through_both_stores(kubo: KuboStore, tmp_path: Path) -> None:
    files = {str(10_000 + i): json.dumps({"name": f"Twin {i}"}).encode() for i in range(1, 300)}
    local = LocalBlockStore(tmp_path / "blocks")
    via_local = add_directory(local, files)
    via_kubo = add_directory(kubo, files)  # KuboStore.put checks the daemon made this very CID
    assert via_local.cid == via_kubo.cid
    for store in (local, kubo):
        entry = directory_entry(store, via_kubo.cid, "10150")
        assert cat(store, entry) == files["10150"]
    big = det(700_000)
    imported = add_bytes(kubo, big)
    assert cat(kubo, imported.cid) == big


def test_a_lying_node_is_caught() -> None:
    # The one fake here: a transport answering with other bytes than the CID names, to prove reads are checked.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not the content you asked for")

    store = KuboStore("http://ipfs.invalid")
    store._client = httpx.Client(base_url="http://ipfs.invalid/api/v0", transport=httpx.MockTransport(handler))
    with pytest.raises(ContentIntegrityError):
        store.get_block(CID.parse("bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4"))


def test_local_store_catches_a_corrupted_block(tmp_path: Path) -> None:
    store = LocalBlockStore(tmp_path)
    imported = add_bytes(store, b"genuine bytes")
    raw_block(store, imported.cid).write_bytes(b"tampered bytes")
    with pytest.raises(ContentIntegrityError):
        cat(store, imported.cid)


def test_the_gateway_reads_only_what_the_node_holds(kubo: KuboStore) -> None:
    """Through the node's local view an unknown CID is a quick 404 (ContentNotFound), not a search of
    the network holding a thread for the client timeout; held blocks read as before."""
    import time

    from registry.errors import ContentNotFound
    from registry.gateway.service import serving_store

    local = serving_store(kubo)
    assert local is not kubo and serving_store(local) is local
    unknown = CID.of(b"no node holds these bytes 5f0c", codec=0x55)
    started = time.monotonic()
    with pytest.raises(ContentNotFound):
        local.get_block(unknown)
    assert time.monotonic() - started < 8
    held = add_bytes(kubo, b"held by the node")
    assert local.get_block(held.cid) == b"held by the node"
