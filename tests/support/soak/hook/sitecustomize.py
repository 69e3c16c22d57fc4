"""Loaded by every Python process whose PYTHONPATH starts here (the soak's API with `--trace-memory`):
with TWINMARK_SOAK_TRACEMALLOC set, starts tracing allocations once the process is up (tracing from the
first import slows start-up several times), takes a first snapshot 30 s later and then every 30 s
appends to that file Python's traced total, the RSS before and after `malloc_trim(0)` and the 12 lines
whose allocations grew most since the first snapshot."""

from __future__ import annotations

import ctypes
import os
import threading
import time
import tracemalloc

_OUT = os.environ.get("TWINMARK_SOAK_TRACEMALLOC")


def _watch(path: str) -> None:
    time.sleep(15)
    tracemalloc.start(8)
    time.sleep(30)
    first = tracemalloc.take_snapshot()
    while True:
        time.sleep(30)
        now = tracemalloc.take_snapshot()
        current, _ = tracemalloc.get_traced_memory()
        with open(path, "a") as out:
            # Python's own allocations (traced) next to the process's RSS: growth in RSS but not in the
            # traced figure is native memory (allocator arenas, C extensions).
            # malloc_trim returns the allocator's free pages: what it gives back was retained, not leaked.
            before = _rss()
            trimmed = _trim()
            out.write(
                f"\n=== at {time.strftime('%H:%M:%S')}: traced {current / 2**20:.1f} MiB, RSS {before:.1f} MiB, "
                f"after malloc_trim {_rss() if trimmed else float('nan'):.1f} MiB, {threading.active_count()} threads\n"
            )
            for stat in now.compare_to(first, "lineno")[:12]:
                out.write(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}\n")


def _trim() -> bool:
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0) or True)
    except OSError:
        return False


def _rss() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


if _OUT:
    threading.Thread(target=_watch, args=(_OUT,), name="soak-tracemalloc", daemon=True).start()
