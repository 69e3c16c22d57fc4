"""The Khronos glTF Validator, run by Node on every uploaded GLB (the counts kept from its report:
`registry.assets.counts`).

A long-lived `node tools/gltf/validate.mjs --serve` answers requests in order (a cold start of Node
plus the validator costs 100-250 ms, a validation of a garment about 1 ms). A small pool of them
serves uploads: each takes the first idle worker, a brand runs at most a set number of validations at
a time (so one brand's hostile models never hold every worker), and a worker that does not answer
within the per-file limit is killed and replaced.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import math
import os
import selectors
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from registry.assets.counts import GltfCounts, Report, counts
from registry.errors import InvalidInput, TooManyRequests, TwinmarkError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "gltf" / "validate.mjs"
TIMEOUT_SECONDS = 5.0  # per file; a 30 MB, 500k-triangle model takes ~0.5 s here
QUEUE_SECONDS = 30.0  # a direct caller of one worker waits this long for it, then is told to retry
WORKERS = 2
PER_BRAND = 1
BRAND_WAITERS = 8  # a brand's uploads waiting for its turn; more at once are told to retry (429)
HEAP_MB = 512  # the validator's V8 heap: a hostile model ends the worker, not the machine
SEVERITIES = ("error", "warning", "info", "hint")
CAGE_SUFFIXES = ("_InnerCage", "_OuterCage")


class ValidatorUnavailable(TwinmarkError):
    """Node or the validator could not run: the upload is not the client's fault, retry later."""

    code, status, title = "validator-unavailable", 503, "Model validator unavailable"


class ModelTooComplex(InvalidInput):
    """The model declares more work than its bytes justify or a game-ready model has, or the validator
    could not finish it in time twice: refused, retrying would not help."""

    code, title = "model-too-complex", "Model too complex"


def _unvalidatable(reason: str) -> InvalidInput:
    return InvalidInput(f"the model could not be validated: the glTF validator {reason} on these very bytes twice")


# Digests of models the validator did not answer in time (recent first out), whichever worker ran them.
_timed_out: dict[str, None] = {}
_timed_out_lock = threading.Lock()


def node_binary() -> str:
    return os.environ.get("TWINMARK_NODE") or str(ROOT / "node_modules" / ".bin" / "node")


class _Worker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()  # a forked child must not share its parent's pipes

    def _start(self) -> subprocess.Popen[bytes]:
        try:
            proc = subprocess.Popen(  # noqa: S603 - our own script, by absolute path; no shell
                [node_binary(), f"--max-old-space-size={HEAP_MB}", str(SCRIPT), "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=ROOT,
            )
        except OSError as exc:
            raise ValidatorUnavailable(f"cannot start the glTF validator: {exc}") from exc
        return proc

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        with self._lock:
            if self._owner == os.getpid():
                self._stop()

    def validate(self, data: bytes, timeout: float, *, queue: float = QUEUE_SECONDS) -> Report:
        """The validator's report. A model that crashes the worker twice in a row, or that it fails to
        answer in time on a second upload, is refused (InvalidInput): retrying would not help."""
        if not self._lock.acquire(timeout=queue):
            raise ValidatorUnavailable(f"the glTF validator is busy (waited {queue:g} s)")
        try:
            line = self._validate(data, timeout)
        finally:
            self._lock.release()
        return _report(line)

    def _validate(self, data: bytes, timeout: float) -> bytes:
        digest = hashlib.sha256(data).hexdigest()
        try:
            try:
                return self._ask(data, timeout)
            except TimeoutError:
                raise
            except OSError:
                self._stop()  # the worker may have died since the last request: one retry on a fresh one
            try:
                return self._ask(data, timeout)
            except TimeoutError:
                raise
            except OSError as exc:
                self._stop()
                raise _unvalidatable("crashed") from exc
        except TimeoutError as exc:  # (an OSError too, hence first)
            self._stop()  # killed: a late answer must never be read as the next request's
            with _timed_out_lock:
                again = digest in _timed_out
                _timed_out[digest] = None
                while len(_timed_out) > 256:
                    del _timed_out[next(iter(_timed_out))]
            if again:
                raise ModelTooComplex(
                    f"the glTF validator did not finish this model within {timeout:g} s, twice: it is refused"
                ) from exc
            # Once may be the machine's load: the client may retry, and the same bytes timing out again are refused.
            raise ValidatorUnavailable(
                f"the glTF validator did not answer within {timeout:g} s and was restarted ({exc}); "
                "retry: a model that times out twice is refused"
            ) from exc

    def _ask(self, data: bytes, timeout: float) -> bytes:
        if self._owner != os.getpid():
            self._proc, self._owner = None, os.getpid()  # the parent's worker stays the parent's
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(struct.pack(">I", len(data)) + data)
        proc.stdin.flush()
        return _read_line(proc.stdout.fileno(), timeout)


def _read_line(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    buffer = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not buffer.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise TimeoutError(f"no answer within {timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise OSError("the validator exited")
            buffer += chunk
    return bytes(buffer)


def _report(line: bytes) -> Report:
    try:
        answer = json.loads(line)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ValidatorUnavailable("the glTF validator answered something other than a report")
    return cast(Report, answer)  # an object: its members are read defensively (`_dict`, `_count`)


class _Pool:
    """A few workers. An upload takes the first idle one (a quiet service keeps a single warm Node;
    the others start when uploads overlap) and waits a bounded time when all are busy."""

    def __init__(self, first: _Worker) -> None:
        self._workers = [first]
        self._idle = threading.Condition()

    def stop(self) -> None:
        for worker in list(self._workers):
            worker.stop()

    def validate(self, data: bytes, timeout: float, *, size: int, queue: float) -> Report:
        deadline = time.monotonic() + queue
        with self._idle:
            while len(self._workers) < size:
                self._workers.append(_Worker())
            while (worker := self._take(size)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ValidatorUnavailable(f"every glTF validator is busy (waited {queue:g} s)")
                self._idle.wait(min(left, 0.25))  # (a worker may also be freed outside the pool)
        try:
            line = worker._validate(data, timeout)
        finally:
            worker._lock.release()
            with self._idle:
                self._idle.notify()
        return _report(line)

    def _take(self, size: int) -> _Worker | None:
        for worker in self._workers[:size]:
            if worker._lock.acquire(blocking=False):
                return worker
        return None


class _Turns:
    """At most `limit` validations at a time per brand, and a few more waiting: however many hostile
    models one brand sends, the pool's other workers stay free for the others."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}

    @contextmanager
    def turn(self, brand: str, limit: int, wait: float) -> Iterator[None]:
        busy = TooManyRequests(
            f"this brand already has {limit} model(s) being validated; retry shortly", retry_after=math.ceil(wait)
        )
        with self._changed:
            if self._running.get(brand, 0) >= limit:
                if self._waiting.get(brand, 0) >= BRAND_WAITERS:
                    raise busy
                self._waiting[brand] = self._waiting.get(brand, 0) + 1
                try:
                    free = self._changed.wait_for(lambda: self._running.get(brand, 0) < limit, wait)
                finally:
                    _drop(self._waiting, brand)
                if not free:
                    raise busy
            self._running[brand] = self._running.get(brand, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                _drop(self._running, brand)
                self._changed.notify_all()


def _drop(counts: dict[str, int], key: str) -> None:
    counts[key] -= 1
    if not counts[key]:
        del counts[key]


_worker = _Worker()
_pool = _Pool(_worker)
_turns = _Turns()
atexit.register(_pool.stop)


@dataclass(frozen=True)
class Issue:
    code: str
    pointer: str
    message: str
    severity: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "pointer": self.pointer, "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class Inspection:
    errors: list[Issue]
    stats: GltfCounts | None  # None when the validator found errors


def validate_with_khronos(
    data: bytes,
    gltf: dict[str, Any],
    *,
    timeout: float = TIMEOUT_SECONDS,
    brand: str | None = None,
    workers: int = WORKERS,
    per_brand: int = PER_BRAND,
) -> Inspection:
    """The validator's errors, and the counts games and platform profiles need. `gltf` is the GLB's
    JSON chunk, already parsed by the container check (names of nodes, meshes and materials). A
    `brand` waits for one of its `per_brand` turns (TooManyRequests if none comes); then every
    caller waits for one of `workers` workers (ValidatorUnavailable if none comes)."""
    # A brand's running validation ends within one time limit, answered or killed (unless it first
    # waited for a worker): its next upload waits that long for the turn, then is told to retry.
    with _turns.turn(brand, max(per_brand, 1), timeout + 1) if brand is not None else nullcontext():
        report = _pool.validate(data, timeout, size=max(workers, 1), queue=timeout + 1)
    if "failure" in report:
        return Inspection([Issue("VALIDATOR_FAILURE", "", str(report["failure"]), "error")], None)
    found = report.get("issues")
    issues: dict[str, Any] = found if isinstance(found, dict) else {}  # another process's output: checked
    errors = [
        Issue(str(m.get("code", "")), str(m.get("pointer", "")), str(m.get("message", "")), "error")
        for m in issues.get("messages") or []
        if isinstance(m, dict) and m.get("severity") == 0
    ]
    if issues.get("numErrors", 0) and not errors:  # more messages than the report keeps
        errors.append(Issue("UNREPORTED_ERRORS", "", f"{issues['numErrors']} error(s)", "error"))
    # Counts only of a model the validator passed: they read the JSON, which it has then checked.
    return Inspection(errors, None if errors else counts(report, gltf))
