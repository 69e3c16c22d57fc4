"""The local block store: every block a row of one SQLite database (`blocks.sqlite` under the store's
root), keyed by its sha2-256 digest, as Kubo's blockstore keys blocks by multihash.

Why not a file per block (the first layout, `FileBlockStore`, still read): a batch of 2,000 small
blocks was 2,000 file creations, about a second on this VM's file system. A batch here is one
transaction: every block of it becomes visible at once when the commit lands, or none does (a
SIGKILL mid-batch leaves nothing half written), and SQLite's locks make any number of processes
(API workers, mint workers) safe writers and readers of one database (WAL: readers never wait for
the writer). Every read is still verified against the CID asked for.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from registry.errors import ContentIntegrityError, ContentNotFound, ContentUnavailable
from registry.ipfs.cid import CID
from registry.ipfs.unixfs import Imported
from registry.metrics import record as metrics

DATABASE = "blocks.sqlite"
BUSY_MS = 30_000  # how long a writer waits for another process's transaction before giving up

SCHEMA = "CREATE TABLE IF NOT EXISTS blocks (digest BLOB PRIMARY KEY, data BLOB NOT NULL)"


def verified(cid: CID, block: bytes, store: str = "local") -> bytes:
    metrics.content("read", store)
    if not cid.verify(block):
        metrics.integrity_failure(store)
        raise ContentIntegrityError(f"content served for {cid} does not hash to that CID")
    return block


class FileBlockStore:
    """The first layout: one file per block under `root`, named by CIDv1 (temp file + rename). Kept to
    read a store not yet migrated, for `twinmark blocks migrate`, and as the benchmark's baseline."""

    _writers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="block-writer")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, cid: CID) -> Path:
        name = str(cid.v1())
        return self.root / name[-3:-1] / name

    @staticmethod
    def _write(path: Path, block: bytes) -> None:
        tmp = path.with_name(f".tmp-{threading.get_ident()}-{path.name}")
        tmp.write_bytes(block)
        os.replace(tmp, path)

    def put(self, imported: Imported, *, files: Mapping[str, bytes] | None = None) -> None:
        todo = [(self._path(CID.parse(text)), block) for text, block in imported.blocks.items()]
        todo = [(path, block) for path, block in todo if not path.exists()]
        for parent in {path.parent for path, _ in todo}:
            parent.mkdir(exist_ok=True)
        list(self._writers.map(lambda item: self._write(*item), todo))

    def get_block(self, cid: CID) -> bytes:
        try:
            block = self._path(cid).read_bytes()
        except FileNotFoundError:
            raise ContentNotFound(f"{cid} is not in the local block store") from None
        return verified(cid, block)

    def files(self) -> Iterator[tuple[CID, Path]]:
        """Every block file of the layout (temp files of interrupted writes left out), by its CID."""
        for sub in sorted(self.root.iterdir()):
            if not sub.is_dir() or len(sub.name) != 2:
                continue
            for path in sorted(sub.iterdir()):
                if path.name.startswith(".tmp-"):
                    continue
                try:
                    yield CID.parse(path.name), path
                except ValueError:
                    continue

    def holds_any(self) -> bool:
        return any(sub.is_dir() and len(sub.name) == 2 for sub in self.root.iterdir())

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ContentUnavailable(f"block store {self.root} is not writable")


class LocalBlockStore:
    """Blocks as rows of one SQLite database under `root`; blocks a not yet migrated store still holds
    as files (`FileBlockStore`) are read from there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = root / DATABASE
        self.legacy = FileBlockStore(root)
        self._local = threading.local()
        with self._connect() as conn:  # the schema once, before any thread needs it
            conn.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE for a batch).
        conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives any process crash; only a power loss may undo the last commits (the
        # database stays consistent). The file layout never synced at all.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 releases the GIL while it reads, so threads read in
        parallel); a forked child opens its own."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.conn, local.pid = self._connect(), os.getpid()
        conn: sqlite3.Connection = local.conn
        return conn

    def put(self, imported: Imported, *, files: Mapping[str, bytes] | None = None) -> None:
        self.put_blocks((CID.parse(text), block) for text, block in imported.blocks.items())

    def put_blocks(self, blocks: Iterable[tuple[CID, bytes]]) -> None:
        """Stores blocks in one transaction: all of them become visible at the commit, or none."""
        rows = [(cid.digest, block) for cid, block in blocks]
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR IGNORE INTO blocks (digest, data) VALUES (?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite rolls some failures back itself
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise ContentUnavailable(f"block store {self.path} failed: {exc}") from None
        metrics.content("write", "local", len(rows))

    def _row(self, cid: CID) -> bytes | None:
        try:
            row = self._conn().execute("SELECT data FROM blocks WHERE digest = ?", (cid.digest,)).fetchone()
        except sqlite3.Error as exc:
            raise ContentUnavailable(f"block store {self.path} failed: {exc}") from None
        return None if row is None else bytes(row[0])

    def get_block(self, cid: CID) -> bytes:
        block = self._row(cid)
        if block is None:
            try:
                return self.legacy.get_block(cid)
            except ContentNotFound:
                # A migration running meanwhile may have moved it between the two looks.
                block = self._row(cid)
                if block is None:
                    raise
        return verified(cid, block)

    def has(self, cid: CID) -> bool:
        return self._conn().execute("SELECT 1 FROM blocks WHERE digest = ?", (cid.digest,)).fetchone() is not None

    def ping(self) -> None:
        self.legacy.ping()
        try:
            self._conn().execute("SELECT 1 FROM blocks LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise ContentUnavailable(f"block store {self.path} failed: {exc}") from None


@dataclass
class Migrated:
    moved: int = 0  # block files now rows (and removed)
    refused: list[Path] = field(default_factory=list)  # files whose bytes do not hash to their name: left


def migrate(root: Path, *, chunk: int = 2_000) -> Migrated:
    """Moves a store's block files into its database, `chunk` files per transaction, and removes each
    file once its row is committed. Idempotent and resumable: a file already a row (a run stopped
    between a commit and its removals) is ignored by the insert and removed; a second run finds
    nothing. A file whose bytes are not its CID's is left where it is, for the operator to look at."""
    store = LocalBlockStore(root)
    result = Migrated()
    files = store.legacy.files()
    while batch := list(islice(files, chunk)):
        good: list[tuple[CID, bytes, Path]] = []
        for cid, path in batch:
            data = path.read_bytes()
            if cid.verify(data):
                good.append((cid, data, path))
            else:
                result.refused.append(path)
        store.put_blocks((cid, data) for cid, data, _ in good)
        for _, _, path in good:
            path.unlink()
        result.moved += len(good)
    for sub in root.iterdir():
        if sub.is_dir() and len(sub.name) == 2:
            for tmp in sub.glob(".tmp-*"):  # a write interrupted before its rename: never a block
                tmp.unlink()
            if not any(sub.iterdir()):
                sub.rmdir()
    return result
