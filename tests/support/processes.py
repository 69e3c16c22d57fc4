"""A subprocess for the length of a `with` block, its output in a log file (a pipe nobody reads would
stall it once full): terminated at the end, killed if it does not stop in time. For the tests and the
benchmarks that run the service as several processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running(
    args: list[str], env: dict[str, str], cwd: Path, log: Path, *, stop_timeout: float = 20.0
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
