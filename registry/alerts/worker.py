"""The rules off the scan writer's thread: the scan log's `on_batch` hands its committed rows to
`submit` (no waiting: a full queue drops them and counts the drop, as the scan log does with scans),
and `run` evaluates what is waiting, several batches at once, in its own transaction.

Wiring (the composition root): `worker = AlertWorker(engine, AlertEngine(chain))`,
`recorder.on_batch(worker.submit)`, and `worker.run(stop)` on a thread of its own."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from registry.alerts.caution import board_for
from registry.alerts.service import AlertEngine
from registry.db.engine import session_scope

log = logging.getLogger(__name__)

# A pass costs ~10 ms whatever its size (a dozen queries) plus its scans: under load the worker waits
# this long after a pass, so each pass takes more scans (and holds the GIL, which the answers need, less).
PAUSE = 0.5


@dataclass
class AlertStats:
    evaluated: int = 0  # scans the rules ran over
    raised: int = 0
    dropped: int = 0  # scans never evaluated: the queue was full, or their pass failed


class AlertWorker:
    def __init__(
        self, engine: Engine, alerts: AlertEngine, *, size: int = 100_000, batch: int = 2_000, pause: float = PAUSE
    ) -> None:
        self.engine, self.alerts, self.batch, self.pause = engine, alerts, batch, pause
        self.stats = AlertStats()
        self._queue: deque[Any] = deque()  # `Scan`s or stored rows; appended without waking anyone
        self._size = size
        self._pending = 0  # submitted, not yet evaluated or dropped
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def submit(self, rows: Sequence[Any]) -> None:
        """The scan log's listener: queues the committed rows (as many as there is room for; the rest
        are dropped and counted) and returns at once."""
        with self._lock:
            room = max(0, self._size - self._pending)
            taken = rows[:room]
            self._queue.extend(taken)
            self._pending += len(taken)
            self.stats.dropped += len(rows) - len(taken)
        if taken:
            self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set() or self._queue:
            if not self._queue:
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            with self._lock:
                rows = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
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
            if not stop.is_set():
                stop.wait(self.pause)

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until everything submitted so far was evaluated (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.01)
        return False
