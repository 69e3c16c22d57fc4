"""Outages of the service's dependencies (database, chain node, content store), logged as one line
when one stops answering and one when it is back, instead of a line (or a traceback) per failure.
Only the exception's class is named: the text of a driver's or provider's error may carry a URL,
hence a password or an API key."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from registry.errors import ChainUnavailable, ContentUnavailable, DatabaseUnavailable

DATABASE, CHAIN, CONTENT = "database", "chain node", "content store"
_DATABASE_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, DatabaseUnavailable)


def dependency(exc: BaseException) -> str | None:
    """The dependency whose absence `exc` (or an exception it was raised from) reports; None for
    anything else, which is a bug worth its traceback."""
    seen: BaseException | None = exc
    for _ in range(4):  # a wrapped driver error: its cause says what failed
        if seen is None:
            return None
        if isinstance(seen, _DATABASE_ERRORS):
            return DATABASE
        if isinstance(seen, ChainUnavailable):
            return CHAIN
        if isinstance(seen, ContentUnavailable):
            return CONTENT
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return None


def reason(exc: BaseException) -> str:
    """What to log of a dependency's failure: the class names, never the text (URLs, credentials)."""
    if isinstance(exc, ChainUnavailable | ContentUnavailable | DatabaseUnavailable):
        return exc.detail  # written by us, with no URL in it
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's exception
    if orig is None:
        return type(exc).__name__
    return f"{type(exc).__name__} from {type(orig).__module__.split('.')[0]}.{type(orig).__name__}"


class Outage:
    """One dependency as seen by one loop (or by the API's requests): `failed` logs one WARNING when
    the first failure arrives, `reached` one INFO line with the outage's length and failure count.
    `reached` costs one attribute read while nothing is wrong."""

    def __init__(self, what: str, who: str, logger: logging.Logger) -> None:
        self.what, self.who, self.log = what, who, logger
        self.since: float | None = None
        self.failures = 0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if self.since is not None:
                return
            self.since = time.monotonic()
        why = reason(exc)
        said = why if why.startswith(f"{self.what} unreachable") else f"{self.what} unreachable ({why})"
        self.log.warning("%s: %s; quiet until it is back", self.who, said)

    def reached(self) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            took, failures = time.monotonic() - self.since, self.failures
            self.since, self.failures = None, 0
        self.log.warning("%s: %s reachable again after %.1f s, %d failures", self.who, self.what, took, failures)


class Outages:
    """The outages of one loop, one per dependency."""

    def __init__(self, who: str, logger: logging.Logger) -> None:
        self.who, self.log = who, logger
        self._by_dependency: dict[str, Outage] = {}
        self._lock = threading.Lock()

    def get(self, what: str) -> Outage:
        with self._lock:
            if what not in self._by_dependency:
                self._by_dependency[what] = Outage(what, self.who, self.log)
            return self._by_dependency[what]

    def failed(self, exc: BaseException) -> bool:
        """Counts `exc` if it says a dependency is away (False: it is something else)."""
        what = dependency(exc)
        if what is None:
            return False
        self.get(what).failed(exc)
        return True

    def reached(self, *what: str) -> None:
        for name in what or tuple(self._by_dependency):
            if name in self._by_dependency:
                self._by_dependency[name].reached()


# The API's requests meet a database outage together: one tracker per process, whose failures the
# API's error handlers count and which the first statement to succeed again ends (see `make_engine`).
REQUESTS = Outage(DATABASE, "requests", logging.getLogger("api.errors"))
