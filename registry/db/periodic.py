"""Housekeeping (retention purges): a loop of one pass every `interval`, a database away only delaying
it, and a pass that works through its rows a batch a transaction (no long lock on a big backlog)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, Select
from sqlmodel import Session

from registry.db.engine import session_scope

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


def in_batches(
    engine: Engine, pick: Select[Any], act: Callable[[Session, Sequence[Any]], object], batch: int = 500
) -> int:
    """Runs `act(session, ids)` on the ids `pick` (a select of ids) finds, `batch` a transaction, until it
    finds none (so `act` must take its rows out of `pick`'s reach); how many it acted on."""
    done = 0
    while True:
        with session_scope(engine) as s:
            ids = s.execute(pick.limit(batch)).scalars().all()
            if not ids:
                return done
            act(s, ids)
        done += len(ids)
