"""A housekeeping loop (retention purges): one pass every `interval`, a database away only delays it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def run_every(task: Callable[[], int], what: str, stop: threading.Event, interval: float = 3600.0) -> None:
    """Runs `task` (returning how many rows it handled) until `stop`; logs `what % count` when it did
    something. Every process may run it: each pass is idempotent."""
    while not stop.is_set():
        try:
            done = task()
        except Exception as exc:  # the database away: the next round tries again
            log.warning("%s: %s; trying again later", what.split(":")[0], type(exc).__name__)
            stop.wait(min(interval, 60.0))
            continue
        if done:
            log.info(what, done)
        stop.wait(interval)
