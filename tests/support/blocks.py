"""A block of the local block store as tests tamper with it: its row, read and written behind the
store's back (as a corrupt disk or another program would), with a file's three verbs."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from registry.ipfs.cid import CID
from registry.ipfs.store import LocalBlockStore


@dataclass(frozen=True)
class RawBlock:
    store: LocalBlockStore
    cid: CID

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.store.path, isolation_level=None, timeout=30)

    def read_bytes(self) -> bytes:
        with self._db() as db:
            row = db.execute("SELECT data FROM blocks WHERE digest = ?", (self.cid.digest,)).fetchone()
        assert row is not None, f"{self.cid} is not stored"
        return bytes(row[0])

    def write_bytes(self, data: bytes) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO blocks (digest, data) VALUES (?, ?)", (self.cid.digest, data))

    def unlink(self) -> None:
        with self._db() as db:
            assert db.execute("DELETE FROM blocks WHERE digest = ?", (self.cid.digest,)).rowcount == 1


def raw_block(store: object, cid: CID) -> RawBlock:
    assert isinstance(store, LocalBlockStore)
    return RawBlock(store, cid)
