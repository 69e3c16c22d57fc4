"""Recording that never slows or fails an answer: a request appends a `ScanEvent` to a bounded queue
(a full queue drops it and counts the drop) and returns; one writer thread takes what is waiting,
finds each twin's brand and each network's location, and stores the lot with one INSERT of many rows,
adding it to its days' rollups in the same transaction (`registry.scans.live`). A batch the database
refuses (away, locked, full) is dropped and counted: the answers it came from
were long sent. Listeners registered with `on_batch` are called with the stored rows
after each commit (the alert rules read them there)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from sqlalchemy import Engine, Row, insert
from sqlmodel import Session, select

from registry.db.columns import utcnow
from registry.db.pairs import pairs_in
from registry.errors import InvalidInput
from registry.metrics import record as metrics
from registry.scans import live
from registry.scans.geo import Locator
from registry.scans.models import Scan
from registry.twins.models import Twin
from registry.twins.service import find_twins

log = logging.getLogger(__name__)

# A stored row of the `scans` table: a SQLAlchemy `Row`, read by the `Scan` model's attribute names
# (a `Scan` built per row cost ~23 us; the alert rules only read its fields).
StoredScan = Row[Any]
Listener = Callable[[Sequence[StoredScan]], None]
CAP_KEYS = 100_000  # (network, door, twin) keys the per-minute cap counts at once (~20 MB at most)
LINGER = 0.1  # seconds a batch waits for company after its first scan (a batch costs ~1 ms of its own)


@lru_cache(maxsize=4096)
def _checksum(contract: str) -> str | None:
    """A contract address as the twins table keys it (a few collections: computed once each)."""
    return to_checksum_address(contract) if is_address(contract) else None


@dataclass(slots=True)
class ScanEvent:
    """What a request saw, already coarse (network truncated, session hashed, agent classed). The
    twin is named as the request named it (`contract` unchecked, or a GS1 `gtin` and `serial`); the
    writer finds the twin and its brand."""

    channel: str
    contract: str | None = None
    token_id: int | None = None
    gtin: str | None = None
    serial: str | None = None
    arrival: str | None = None
    tag_kind: str | None = None
    tag_id: str | None = None
    counter: int | None = None
    valid: bool | None = None
    evidence: str | None = None
    block_number: int | None = None
    network: str | None = None
    session: str | None = None
    agent: str | None = None
    language: str | None = None
    at: datetime = field(default_factory=utcnow)


@dataclass
class ScanStats:
    queued: int = 0
    written: int = 0
    dropped_full: int = 0  # the queue was full: never queued
    dropped_failed: int = 0  # queued, but their batch could not be stored
    capped: int = 0  # answered, not recorded: one network's repeats of one twin past the per-minute cap
    batches: int = 0


class ScanRecorder:
    def __init__(
        self,
        engine: Engine,
        *,
        size: int,
        batch: int,
        locator: Locator,
        enabled: bool = True,
        per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.enabled = enabled
        self.locator = locator
        self.stats = ScanStats()
        self._batch, self._size = batch, size
        # One network's scans of one twin by one channel recorded per minute (None: all). A repeat
        # past it tells the rules and the brand's numbers nothing new, and one client looping over one
        # verify URL would otherwise write thousands of rows a second and double every answer's cost.
        self._per_minute = per_minute
        self._clock = clock
        self._window = 0  # the minute `_counts` counts (monotonic seconds // 60)
        self._counts: dict[tuple[object, ...], int] = {}
        # A deque, not a queue.Queue: appending takes no lock and wakes no thread (a Queue's put notified
        # the writer once per scan, a thread switch per request); the writer wakes at the first scan of
        # a batch (`_wake`) and takes what came in the next LINGER seconds.
        self._queue: deque[ScanEvent] = deque()
        self._wake = threading.Event()
        self._taken = 0  # scans the writer took and has not finished with (under `_lock`)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._brands: OrderedDict[tuple[str, int], str | None] = OrderedDict()  # twins never change brand
        self._last_failure_log = 0.0

    # ------------------------------------------------------------------ the request's side

    def submit(self, event: ScanEvent) -> bool:
        """Queues `event` without waiting; False (and counted) when the queue is full or recording off."""
        if not self.enabled:
            return False
        if self._per_minute is not None and event.network is not None and self._capped(event):
            with self._lock:
                self.stats.capped += 1
            metrics.scans_capped()
            return False
        if len(self._queue) >= self._size:  # checked without a lock: a few over the bound under a race
            with self._lock:
                self.stats.dropped_full += 1
            metrics.scan_dropped("queue_full")
            return False
        self._queue.append(event)
        with self._lock:
            self.stats.queued += 1
        if len(self._queue) == 1:  # the first of a batch: the writer may be asleep (a missed wake costs 0.2 s)
            self._wake.set()
        return True

    def _capped(self, event: ScanEvent) -> bool:
        """Whether `event` is past its network's cap for the twin it names, this minute (counted here:
        a plain dict, emptied each minute, so it holds at most a minute's distinct keys)."""
        window = int(self._clock() // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        twin = (event.contract, event.token_id) if event.token_id is not None else (event.gtin, event.serial)
        key = (event.network, event.channel, *twin)
        if key not in self._counts and len(self._counts) >= CAP_KEYS:
            return False  # a flood of distinct networks: each is recorded (bounded memory, no cap to dodge)
        seen = self._counts.get(key, 0) + 1  # under the GIL; two racing requests may both pass: a cap, not a count
        self._counts[key] = seen
        assert self._per_minute is not None
        return seen > self._per_minute

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def on_batch(self, callback: Listener) -> Callable[[], None]:
        """Calls `callback(rows)` in the writer thread after each committed batch, with the stored
        rows (`StoredScan`: every column, ids set). A listener that raises is logged; the others still run. A
        slow listener holds the writer (and so fills the queue): hand heavy work to your own thread.
        Returns a function that removes the listener."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def flush(self, timeout: float = 5.0) -> bool:
        """Waits until everything queued so far is written (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queue and self._taken == 0:  # every event taken has been written or dropped
                    return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ the writer

    def run(self, stop: threading.Event) -> None:
        """The writer loop; on `stop` it writes what is still queued, then returns."""
        while True:
            metrics.heartbeat("scan-writer")
            if not self._queue:
                if stop.is_set():
                    return
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            # Gathers for LINGER after the first scan: fewer, fuller batches under load.
            if len(self._queue) < self._batch and not stop.is_set():
                time.sleep(LINGER)
            with self._lock:
                events = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
                self._taken = len(events)
            try:
                self.write(events, rows=bool(self._listeners))
            finally:
                with self._lock:
                    self._taken = 0

    def write(self, events: list[ScanEvent], *, rows: bool = True) -> list[StoredScan]:
        """Stores `events` as one batch and tells the listeners; never raises (a failure is counted).
        Returns the stored rows (none when `rows` is False and no listener wants them: cheaper)."""
        try:
            count, stored = self._store(events, rows or bool(self._listeners))
        except Exception as exc:
            with self._lock:
                self.stats.dropped_failed += len(events)
            metrics.scan_dropped("store_failed", len(events))
            now = time.monotonic()
            if now - self._last_failure_log > 60:  # one line a minute through an outage
                self._last_failure_log = now
                log.warning("scan log: %d scans dropped, the database failed (%s)", len(events), type(exc).__name__)
            return []
        with self._lock:
            self.stats.written += count
            self.stats.batches += 1
        metrics.scans_ingested(count)
        for listener in list(self._listeners):
            try:
                listener(stored)
            except Exception:
                log.exception("scan log: a batch listener failed")
        return stored

    def _store(self, events: list[ScanEvent], rows: bool) -> tuple[int, list[StoredScan]]:
        """THE WRITE PATH: one batch in one transaction (its twins' brands read, its rows inserted,
        committed). Whatever must commit with the scans belongs here, before the commit."""
        with Session(self.engine, expire_on_commit=False) as s:
            twins = self._twins(s, events)
            values: list[dict[str, Any]] = []
            for e in events:
                collection, token_id, brand = twins[id(e)]
                place = self.locator.locate(e.network)
                values.append(
                    {
                        "at": e.at,
                        "brand_id": brand,
                        "collection": collection,
                        "token_id": token_id,
                        "channel": e.channel,
                        "arrival": e.arrival,
                        "tag_kind": e.tag_kind,
                        "tag_id": e.tag_id,
                        "counter": e.counter,
                        "valid": e.valid,
                        "evidence": e.evidence,
                        "block_number": e.block_number,
                        "country": place.country,
                        "region": place.region,
                        "latitude": place.latitude,
                        "longitude": place.longitude,
                        "network": e.network,
                        "session": e.session,
                        "agent": e.agent,
                        "language": e.language,
                    }
                )
            # One INSERT ... VALUES (...), (...) ... RETURNING (SQLAlchemy's "insertmanyvalues"): the rows
            # come back as stored, ids set, in whatever order the database gives them.
            # Every column only when a listener wants the rows.
            columns = Scan.__table__.columns if rows else [Scan.__table__.c.id]  # type: ignore[attr-defined]
            result = s.connection().execute(insert(Scan).returning(*columns), values).all()
            live.add_batch(s.connection(), values)  # today's rollups, in the same transaction as the scans
            s.commit()
        return len(result), list(result) if rows else []

    def _twins(self, s: Session, events: list[ScanEvent]) -> dict[int, tuple[str | None, int | None, str | None]]:
        """Each event's (collection, token_id, brand): the twin it named, or (None, token_id, brand of
        the GTIN) for a lookup that matched none."""
        found: dict[int, tuple[str | None, int | None, str | None]] = {}
        wanted: set[tuple[str, int]] = set()
        for e in events:
            if e.contract is not None and e.token_id is not None and (address := _checksum(e.contract)):
                wanted.add((address, e.token_id))
        missing = [k for k in wanted if k not in self._brands]
        if missing:
            query = select(Twin.collection, Twin.token_id, Twin.brand_id).where(
                pairs_in(Twin.collection, Twin.token_id, missing)
            )
            known = {(c, t): b for c, t, b in s.exec(query)}
            for key in missing:
                if key in known:  # an unknown twin may be minted later: not remembered
                    self._remember(key, known[key])
        for e in events:
            if e.contract is not None and e.token_id is not None and (address := _checksum(e.contract)):
                key = (address, e.token_id)
                found[id(e)] = (key[0], key[1], self._brands[key]) if key in self._brands else (None, e.token_id, None)
            elif e.gtin is not None:
                found[id(e)] = self._by_link(s, e.gtin, e.serial)
            else:
                found[id(e)] = (None, e.token_id, None)
        return found

    def _by_link(self, s: Session, gtin: str, serial: str | None) -> tuple[str | None, int | None, str | None]:
        """A resolver hit that led to no page (a linkset, a 404): the twin of the GTIN and serial, or
        for an unknown serial the brand whose twins carry the GTIN (a forged serial is its business)."""
        try:
            twins = find_twins(s, gtin, serial) if serial is not None else []
            if twins:
                return twins[0].collection, twins[0].token_id, twins[0].brand_id
            of_gtin = find_twins(s, gtin, None)
        except InvalidInput:  # not a GTIN
            return None, None, None
        return None, None, of_gtin[0].brand_id if of_gtin else None

    def _remember(self, key: tuple[str, int], brand: str | None) -> None:
        self._brands[key] = brand
        if len(self._brands) > 100_000:
            self._brands.popitem(last=False)
