"""The local block store as rows of one SQLite database: verified reads, whole batches or nothing under
SIGKILL, several processes writing and reading at once, and the migration from a file per block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from registry.errors import ContentIntegrityError, ContentNotFound
from registry.ipfs.blockstore import DATABASE, FileBlockStore, LocalBlockStore
from registry.ipfs.cid import CID, DAG_PB, RAW
from registry.ipfs.store import add_directory, cat, directory_entries
from tests.support.blocks import raw_block

ROOT = Path(__file__).resolve().parents[2]

# A child process writing batches of `size` distinct blocks (batch i's blocks are `i:j:` + padding),
# saying `begin i` before each batch and `done i` after its commit. The blocks are made before the
# loop, so the child spends nearly all its time inside a batch's transaction.
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from registry.ipfs.blockstore import LocalBlockStore
    from registry.ipfs.cid import CID, RAW
    root, first, batches, size, pad = Path(sys.argv[1]), *map(int, sys.argv[2:6])
    store = LocalBlockStore(root)
    made = []
    for i in range(first, first + batches):
        blocks = [f"{i % 1000}:{j}:".encode().ljust(pad, b".") for j in range(size)]
        made.append([(CID.of(b, codec=RAW), b) for b in blocks])
    for i, batch in enumerate(made, start=first):
        print("begin", i, flush=True)
        store.put_blocks(batch)
        print("done", i, flush=True)
    """
)


def block(i: int, j: int, pad: int) -> tuple[CID, bytes]:
    data = f"{i % 1000}:{j}:".encode().ljust(pad, b".")
    return CID.of(data, codec=RAW), data


def writer(root: Path, first: int, batches: int, size: int, pad: int) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", WRITER, str(root), str(first), str(batches), str(size), str(pad)]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def test_blocks_are_read_verified_under_either_cid_version(tmp_path: Path) -> None:
    store = LocalBlockStore(tmp_path)
    imported = add_directory(store, {"a.json": b'{"a": 1}', "b.bin": os.urandom(300_000)})
    entries = directory_entries(store, imported.cid)
    assert cat(store, entries["a.json"]) == b'{"a": 1}' and len(cat(store, entries["b.bin"])) == 300_000
    v0 = CID(0, DAG_PB, imported.cid.digest)
    assert store.get_block(v0) == store.get_block(imported.cid)
    with pytest.raises(ContentNotFound):
        store.get_block(CID.of(b"never stored", codec=RAW))
    raw_block(store, entries["a.json"]).write_bytes(b'{"a": 2}')  # the disk (or a program) changed it
    with pytest.raises(ContentIntegrityError):
        cat(store, entries["a.json"])
    assert not list(tmp_path.glob("??")), "no block is a file of its own"


def test_a_sigkill_mid_batch_leaves_only_whole_batches(tmp_path: Path) -> None:
    """Children are killed (SIGKILL) while writing batches of 2,000 blocks of 2 KiB (more than SQLite's
    page cache: the uncommitted batch spills into the WAL). Each batch is then all there or absent,
    and every stored row is the bytes of its digest."""
    size, pad, killed_mid_batch = 2_000, 2_048, 0
    for round_, delay in enumerate((0.0, 0.05, 0.13)):
        child = writer(tmp_path, round_ * 100, 50, size, pad)
        assert child.stdout is not None
        lines = [child.stdout.readline().split(), child.stdout.readline().split()]
        assert lines[0] == ["begin", str(round_ * 100)] and lines[1][0] == "done"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        said = lines + [line.split() for line in child.stdout.read().splitlines()]
        begun = {int(i) for word, i in said if word == "begin"}
        done = {int(i) for word, i in said if word == "done"}
        killed_mid_batch += len(begun - done)
        store = LocalBlockStore(tmp_path)
        for i in begun:
            present = sum(store.has(block(i, j, pad)[0]) for j in range(size))
            assert present in ((size,) if i in done else (0, size)), f"batch {i}: {present} of {size} blocks"
        for j in range(0, size, 97):
            cid, data = block(max(done), j, pad)
            assert store.get_block(cid) == data
    assert killed_mid_batch >= 2, "the kills should land inside a batch"
    store = LocalBlockStore(tmp_path)
    conn = store._conn()
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for digest, data in conn.execute("SELECT digest, data FROM blocks"):
        assert CID(1, RAW, digest).verify(data)


def test_processes_write_and_read_one_store_at_once(tmp_path: Path) -> None:
    """Three processes write overlapping batches (the same blocks twice) while this one reads."""
    store = LocalBlockStore(tmp_path)
    children = [writer(tmp_path, first, 12, 300, 64) for first in (0, 6, 6)]
    seen = 0
    while any(child.poll() is None for child in children):
        for j in range(0, 300, 37):
            cid, data = block(0, j, 64)
            if store.has(cid):
                assert store.get_block(cid) == data
                seen += 1
    for child in children:
        assert child.wait() == 0
        assert child.stdout is not None and child.stdout.read().count("done") == 12
    for i in range(18):
        for j in range(300):
            cid, data = block(i, j, 64)
            assert store.get_block(cid) == data
    assert store._conn().execute("SELECT count(*) FROM blocks").fetchone() == (18 * 300,)


def migrate_command(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT), "TWINMARK_DATA_DIR": str(data_dir)}
    args = [sys.executable, "-m", "api.cli", "blocks", "migrate"]
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_migrate_moves_a_file_per_block_store_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "blocks"
    files = {f"{i}.json": f'{{"twin": {i}}}'.encode() for i in range(500)} | {"big": os.urandom(700_000)}
    imported = add_directory(FileBlockStore(root), files)
    legacy = FileBlockStore(root)
    paths = dict(legacy.files())
    assert len(paths) == len(imported.blocks)
    # A run stopped between a commit and its removals: these blocks are rows and still files.
    store = LocalBlockStore(root)
    half = list(paths)[: len(paths) // 2]
    store.put_blocks((cid, paths[cid].read_bytes()) for cid in half)
    # Before the migration the store reads the files it has not taken in yet.
    assert cat(store, directory_entries(store, imported.cid)["big"]) == files["big"]
    # A block file whose bytes are not its name's, and a write interrupted before its rename.
    forged = CID.of(b"genuine", codec=RAW)
    (root / str(forged)[-3:-1]).mkdir(exist_ok=True)
    (root / str(forged)[-3:-1] / str(forged)).write_bytes(b"forged")
    (paths[half[0]].parent / ".tmp-1-x").write_bytes(b"partial")

    first = migrate_command(tmp_path)
    assert first.returncode == 1, first.stderr
    assert f"{len(paths)} blocks moved" in first.stdout and str(forged) in first.stderr
    assert [cid for cid, _ in legacy.files()] == [forged], "only the forged file is left"
    assert all(p.name.startswith(DATABASE) for p in root.iterdir() if p.is_file()), "the tmp file is gone"
    with pytest.raises(ContentIntegrityError):  # still read from its file, and still refused
        store.get_block(forged)
    entries = directory_entries(store, imported.cid)
    assert {name: cat(store, cid) for name, cid in entries.items()} == files

    (root / str(forged)[-3:-1] / str(forged)).unlink()
    again = migrate_command(tmp_path)
    assert again.returncode == 0 and " 0 blocks moved" in again.stdout, again.stderr
    assert not list(root.glob("??")) and not legacy.holds_any()
