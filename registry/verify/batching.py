"""Opportunistic batching: concurrent callers asking for different keys share one fetch.

No caller waits for company: the first caller runs a fetch at once with whatever is pending; callers
arriving meanwhile queue, and when the fetch ends one of them runs the next fetch for all that
queued. Under load a fetch serves many callers (one round trip to the node, one index query); alone,
a caller pays exactly one fetch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batcher(Generic[K, V]):
    def __init__(self, fetch: Callable[[list[K]], list[V]], *, max_size: int = 48) -> None:
        self.fetch = fetch  # values in the order of the keys given
        self.max_size = max_size
        self._cond = threading.Condition()
        self._pending: list[tuple[K, Future[V]]] = []
        self._running = False

    def get(self, key: K) -> V:
        mine: Future[V] = Future()
        with self._cond:
            self._pending.append((key, mine))
        while True:
            with self._cond:
                while self._running and not mine.done():
                    self._cond.wait()
                if mine.done():
                    return mine.result()
                self._running = True
                batch, self._pending = self._pending[: self.max_size], self._pending[self.max_size :]
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def _run(self, batch: list[tuple[K, Future[V]]]) -> None:
        keys = list(dict.fromkeys(key for key, _ in batch))
        try:
            values = dict(zip(keys, self.fetch(keys), strict=True))
        except BaseException as exc:  # every caller of this fetch gets its failure
            for _, future in batch:
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for key, future in batch:
            future.set_result(values[key])
