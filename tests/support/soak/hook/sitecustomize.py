"""Loaded by every Python process whose PYTHONPATH starts here (the soak's API with `--trace-memory`):
with TWINMARK_SOAK_TRACEMALLOC set, traces allocations and every 30 s writes to that file the 25 sites
whose allocated size grew most since the first snapshot (taken after a 20 s warm-up)."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc

_OUT = os.environ.get("TWINMARK_SOAK_TRACEMALLOC")


def _watch(path: str) -> None:
    time.sleep(20)
    first = tracemalloc.take_snapshot()
    while True:
        time.sleep(30)
        now = tracemalloc.take_snapshot()
        top = now.compare_to(first, "traceback")[:25]
        current, peak = tracemalloc.get_traced_memory()
        with open(path, "a") as out:
            out.write(
                f"\n=== pid {os.getpid()} at {time.strftime('%H:%M:%S')}: traced {current >> 20} MiB "
                f"(peak {peak >> 20} MiB)\n"
            )
            for stat in top:
                out.write(
                    f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+7d} blocks  "
                    f"{' <- '.join(str(f) for f in stat.traceback[:4])}\n"
                )


if _OUT:
    tracemalloc.start(8)
    threading.Thread(target=_watch, args=(_OUT,), name="soak-tracemalloc", daemon=True).start()
