"""A venue's offline journal of receipt uses: one JSON line per accepted receipt, in a file the venue
keeps (`twinmark receipt check` appends, `twinmark receipt sync` uploads the lines not yet synced and
marks them). With it a venue refuses a second use of a receipt with no network at all; two venues
offline can both accept one, and the server flags the second when they sync."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from registry.privileges.receipts import ForgedReceipt, Receipt, verify


@dataclass
class Entry:
    nonce: str
    receipt: str
    venue: str
    used_at: int
    synced: bool = False


@dataclass(frozen=True)
class OfflineVerdict:
    ok: bool
    reason: str  # accepted, forged, expired, used, wrong-chain
    receipt: Receipt | None = None
    used_at: int | None = None


@contextmanager
def _locked(path: Path) -> Iterator[IO[str]]:
    """The journal open for reading and writing under an exclusive lock (two terminals at one venue)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _entries(fh: IO[str]) -> list[Entry]:
    fh.seek(0)
    return [Entry(**json.loads(line)) for line in fh if line.strip()]


def _rewrite(fh: IO[str], entries: list[Entry]) -> None:
    fh.seek(0)
    fh.truncate()
    fh.writelines(json.dumps(asdict(e), separators=(",", ":")) + "\n" for e in entries)
    fh.flush()
    os.fsync(fh.fileno())


def check_offline(
    path: Path, text: str, *, pinned: str, venue: str, now: int, chain_id: int | None = None, record: bool = True
) -> OfflineVerdict:
    """Verifies the receipt against the pinned key and the journal; an accepted one is recorded."""
    try:
        receipt = verify(text, pinned)
    except ForgedReceipt:
        return OfflineVerdict(False, "forged")
    if chain_id is not None and receipt.chain_id != chain_id:
        return OfflineVerdict(False, "wrong-chain", receipt)
    if now > receipt.expires_at:
        return OfflineVerdict(False, "expired", receipt)
    with _locked(path) as fh:
        earlier = next((e for e in _entries(fh) if e.nonce == receipt.nonce), None)
        if earlier is not None:
            return OfflineVerdict(False, "used", receipt, earlier.used_at)
        if record:
            fh.seek(0, os.SEEK_END)
            entry = Entry(nonce=receipt.nonce, receipt=text.strip(), venue=venue, used_at=now)
            fh.write(json.dumps(asdict(entry), separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    return OfflineVerdict(True, "accepted", receipt)


def mark_used(path: Path, receipt: Receipt, text: str, *, venue: str, used_at: int, synced: bool) -> None:
    """Records a use the server already knows of (an online check), so the journal refuses it offline too."""
    with _locked(path) as fh:
        entries = _entries(fh)
        if not any(e.nonce == receipt.nonce for e in entries):
            entries.append(Entry(receipt.nonce, text.strip(), venue, used_at, synced))
            _rewrite(fh, entries)


def unsynced(path: Path) -> list[Entry]:
    if not path.exists():
        return []
    with _locked(path) as fh:
        return [e for e in _entries(fh) if not e.synced]


def mark_synced(path: Path, nonces: set[str]) -> None:
    with _locked(path) as fh:
        entries = _entries(fh)
        for e in entries:
            if e.nonce in nonces:
                e.synced = True
        _rewrite(fh, entries)
