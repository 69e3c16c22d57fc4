"""The rules off the scan writer's thread: the scan log's `on_batch` hands its committed rows to
`submit` (no waiting: a full queue drops them and counts the drop, as the scan log does with scans),
and `run` evaluates what is waiting, several batches at once, in its own transaction.

Wiring (the composition root): `worker = AlertWorker(engine, AlertEngine(chain))`,
`recorder.on_batch(worker.submit)`, and `worker.run(stop)` on a thread of its own."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from registry.alerts.caution import board_for
from registry.alerts.service import AlertEngine
from registry.db.engine import session_scope
from registry.scans.models import Scan

log = logging.getLogger(__name__)


@dataclass
class AlertStats:
    evaluated: int = 0  # scans the rules ran over
    raised: int = 0
    dropped: int = 0  # scans never evaluated: the queue was full, or their pass failed


class AlertWorker:
    def __init__(self, engine: Engine, alerts: AlertEngine, *, size: int = 100_000, batch: int = 2_000) -> None:
        self.engine, self.alerts, self.batch = engine, alerts, batch
        self.stats = AlertStats()
        self._queue: queue.Queue[Scan] = queue.Queue(maxsize=size)
        self._pending = 0  # submitted, not yet evaluated or dropped
        self._lock = threading.Lock()

    def submit(self, rows: Sequence[Scan]) -> None:
        """The scan log's listener: queues the committed rows and returns at once."""
        for i, row in enumerate(rows):
            try:
                with self._lock:
                    self._queue.put_nowait(row)
                    self._pending += 1
            except queue.Full:
                with self._lock:
                    self.stats.dropped += len(rows) - i
                return

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set() or not self._queue.empty():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            rows = [first]
            while len(rows) < self.batch:
                try:
                    rows.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with session_scope(self.engine) as s:
                    raised = self.alerts.process(s, rows)
                if raised:  # committed: this process's pages show the new cautions at their next request
                    board_for(self.engine).invalidate()
                with self._lock:
                    self.stats.evaluated += len(rows)
                    self.stats.raised += len(raised)
            except Exception:
                log.exception("alert rules failed on %s scans; they are not evaluated again", len(rows))
                with self._lock:
                    self.stats.dropped += len(rows)
            finally:
                with self._lock:
                    self._pending -= len(rows)

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until everything submitted so far was evaluated (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.01)
        return False
