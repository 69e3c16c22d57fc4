"""How background loops and start-up waits behave: a loop is restarted whenever it returns or
raises, and a dependency away at start (the chain node, the database) is waited for with backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from registry.db.outage import DATABASE, dependency, reason
from registry.errors import ChainUnavailable, ConfigurationError, DatabaseUnavailable

log = logging.getLogger(__name__)


def supervise(target: Callable[[threading.Event], None], stop: threading.Event, name: str) -> None:
    """Runs a background loop until `stop`, restarting it (after a pause) whenever it returns or raises."""
    while not stop.is_set():
        try:
            target(stop)
        except Exception as exc:
            if dependency(exc) is None:  # a bug: its traceback
                log.exception("%s stopped unexpectedly; restarting it", name)
            else:
                log.warning("%s stopped: %s unreachable (%s); restarting it", name, dependency(exc), reason(exc))
        if not stop.is_set():
            log.warning("%s exited; restarting it", name)
            stop.wait(1.0)


T = TypeVar("T")


def wait_for(what: str, attempt: Callable[[], T], limit: float) -> T:
    """`attempt()`, tried again while it fails because `what` (the chain node, the database) is away:
    capped exponential backoff, one line when the wait starts and one when it ends, at most `limit`
    seconds (0: as long as it takes; a signal still ends the wait). Other failures raise at once."""
    started = time.monotonic()
    delay, failures = 0.5, 0
    while True:
        try:
            result = attempt()
        except Exception as exc:
            if dependency(exc) != what or isinstance(exc, ConfigurationError):
                raise
            failures += 1
            waited = time.monotonic() - started
            if failures == 1:
                bound = f", for at most {limit:g} s" if limit else ""
                log.warning("waiting for the %s: %s (retrying with backoff%s)", what, reason(exc), bound)
            if limit and waited + delay > limit:
                error = DatabaseUnavailable if what == DATABASE else ChainUnavailable
                raise error(f"the {what} stayed unreachable for {waited:.0f} s at start ({reason(exc)})") from None
            time.sleep(delay)  # interruptible: SIGINT/SIGTERM end the wait
            delay = min(delay * 2, 15.0)
            continue
        if failures:
            log.warning("%s reached after %.1f s (%d failed attempts)", what, time.monotonic() - started, failures)
        return result
