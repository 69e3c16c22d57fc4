"""The fault schedule: a fault every `SLOT` seconds (SIGKILL of the worker, the API or the indexer;
PostgreSQL stopped hard; an RPC fault window of 5xx, 429, latency, span caps, hung connections or
lost answers), the first cycle in a fixed order (so a 90-second run meets every kind of process
fault, the database stop and the 5xx, 429 and lost-answer windows), later cycles shuffled by the
seed. No API kill in the second half of the run: its last incarnation is the one whose RSS is followed."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.support.soak.stack import BASE, Stack

SLOT = 12.0  # seconds between faults
RPC_SECONDS = 9.0
PG_SECONDS = 6.0
API_RESTART = 12.0  # seconds after an API kill counted as a fault window (restart, cold caches)
CYCLE = [
    "rpc-5xx",
    "kill-worker",
    "pg-stop",
    "kill-api",
    "rpc-429",
    "kill-indexer",
    "rpc-lost-answer",
    "pg-stop",
    "rpc-span-cap",
    "kill-worker",
    "rpc-hang",
    "kill-api",
    "rpc-latency",
]
# What each RPC window imposes on top of the everyday conditions.
RPC_WINDOWS: dict[str, dict[str, Any]] = {
    "rpc-5xx": {"fail_rate": 0.5},
    "rpc-429": {"rate_limit": 0.5, "retry_after_s": 1},
    "rpc-latency": {"latency_s": 0.4},
    "rpc-span-cap": {"max_log_span": 5},
    "rpc-hang": {"timeout_rate": 0.15, "hang_s": 2.0},
    # Forwarded, then the answer is lost: a transaction may be broadcast without the sender knowing.
    "rpc-lost-answer": {"lost_answer_rate": 0.2},
}


@dataclass(frozen=True)
class Fault:
    kind: str
    at: float  # seconds after the load started
    duration: float  # 0 for a kill


@dataclass
class Window:
    kind: str
    start: float
    end: float


def schedule(seconds: float, seed: int) -> list[Fault]:
    rng = random.Random(seed)
    faults: list[Fault] = []
    slots = int((seconds - 16) // SLOT) + 1  # the last fault ends a few seconds before the load stops
    order: list[str] = []
    while len(order) < slots:
        cycle = list(CYCLE)
        if order:
            rng.shuffle(cycle)
        order += cycle
    for i, kind in enumerate(order[:slots]):
        at = 6 + i * SLOT + rng.uniform(-1.5, 1.5)
        if kind == "kill-api" and at > seconds / 2:
            kind = rng.choice(["kill-worker", "kill-indexer"])
        duration = RPC_SECONDS if kind.startswith("rpc-") else PG_SECONDS if kind == "pg-stop" else 0.0
        faults.append(Fault(kind, max(at, 2.0), duration))
    return faults


class Chaos:
    """Plays a schedule against the stack in a thread; `windows` is what really happened, in seconds
    since `t0`."""

    def __init__(self, stack: Stack, faults: list[Fault], t0: float, seconds: float) -> None:
        self.stack, self.faults, self.t0, self.seconds = stack, faults, t0, seconds
        self._windows_played = 0
        self.windows: list[Window] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="soak-chaos", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def in_fault(self, start: float, end: float, grace: float = 2.0) -> bool:
        """Whether [start, end] overlaps a window that slows answers down: RPC faults, the database away
        (`grace` seconds after each), the API restarting after its kill (its first `API_RESTART` s)."""
        with self._lock:
            windows = list(self.windows)
        for w in windows:
            if w.kind.startswith(("kill-worker", "kill-indexer")):
                continue
            until = w.start + API_RESTART if w.kind.startswith("kill-api") else w.end + grace
            if start <= until and end >= w.start:
                return True
        return False

    def _run(self) -> None:
        for fault in self.faults:
            if self._stop.wait(max(0.0, fault.at - self.now())):
                return
            try:
                self._play(fault)
            except Exception as exc:  # a broken fault is reported, the soak goes on
                self.errors.append(f"{fault.kind} at {fault.at:.0f} s: {type(exc).__name__}: {exc}")

    def _play(self, fault: Fault) -> None:
        start = self.now()
        if fault.kind.startswith("kill-"):
            self.stack.child(fault.kind.removeprefix("kill-")).kill()
            self._record(Window(fault.kind, start, start))
        elif fault.kind == "pg-stop":
            self.stack.pg.stop()
            try:
                self._during(fault, start)
            finally:
                self.stack.pg.start()
                self._record(Window(fault.kind, start, self.now()))
        else:
            self.stack.proxy.configure(BASE, **RPC_WINDOWS[fault.kind])
            try:
                self._during(fault, start)
            finally:
                self.stack.proxy.configure(BASE)
                self._record(Window(fault.kind, start, self.now()))

    def _during(self, fault: Fault, start: float) -> None:
        """Waits out a window; every second window also kills a process 1 s in, so that it starts
        again while the database is away or the node misbehaves (the API only in the first half)."""
        self._windows_played += 1
        if self._windows_played % 2 == 0 and not self._stop.wait(1.0):
            victims = ["worker", "indexer", "api"] if fault.at < self.seconds / 2 else ["worker", "indexer"]
            victim = victims[(self._windows_played // 2) % len(victims)]
            self.stack.child(victim).kill()
            self._record(Window(f"kill-{victim} in {fault.kind}", self.now(), self.now()))
        self._stop.wait(max(0.0, start + fault.duration - self.now()))

    def _record(self, window: Window) -> None:
        with self._lock:
            self.windows.append(window)
