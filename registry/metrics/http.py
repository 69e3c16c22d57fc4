"""HTTP request metrics, added up in memory and handed to prometheus-client once a second.

A request on the hot path only adds to a row of plain numbers under a lock (about a microsecond):
with several API workers (PROMETHEUS_MULTIPROC_DIR) every value prometheus-client writes is a write
into a shared memory-mapped file, three per request (the counter, the histogram's sum and bucket),
which cost a warm verification more than its 5 % budget. A daemon thread writes the rows out every
`FLUSH_SECONDS`, and a scrape of this process first writes what is pending: at most a second late."""

from __future__ import annotations

import threading
from bisect import bisect_left

from registry.metrics import families as f

FLUSH_SECONDS = 1.0
_BOUNDS = (*f.FAST_BUCKETS, float("inf"))  # the histogram's buckets, +Inf last as it keeps them
_lock = threading.Lock()
_pending: dict[tuple[str, str, int], list[float]] = {}  # (method, handler, status class): count, sum, buckets
_flusher: threading.Thread | None = None


def observe(method: str, handler: str, status_class: int, seconds: float) -> None:
    bucket = bisect_left(_BOUNDS, seconds)  # the first bound >= seconds, as Histogram.observe picks it
    with _lock:
        row = _pending.get((method, handler, status_class))
        if row is None:
            row = _pending[(method, handler, status_class)] = [0.0] * (2 + len(_BOUNDS))
        row[0] += 1
        row[1] += seconds
        row[2 + bucket] += 1
    if _flusher is None:
        _start()


def flush() -> None:
    """Writes the pending rows into the metric families (then visible to any process's scrape)."""
    with _lock:
        rows = list(_pending.items())
        _pending.clear()
    for (method, handler, status_class), row in rows:
        f.http_requests.labels(method, handler, f"{status_class}xx").inc(row[0])
        child = f.http_duration.labels(method, handler)
        # Histogram.observe takes one value; these are many, so its sum and buckets are added to as it
        # would have (prometheus-client keeps them as `_sum` and `_buckets`, non-cumulative).
        child._sum.inc(row[1])
        for i, count in enumerate(row[2:]):
            if count:
                child._buckets[i].inc(count)


def _start() -> None:
    global _flusher
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(target=_run, name="http-metrics", daemon=True)
    _flusher.start()


def _run() -> None:
    while True:
        threading.Event().wait(FLUSH_SECONDS)
        flush()
