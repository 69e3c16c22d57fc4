"""`twinmark worker` / `twinmark indexer` as real separate processes (this checkout's code), their
output collected line by line for the tests to wait on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.api.conftest import OPERATOR, SIGNER_KEY

ROOT = Path(__file__).resolve().parents[2]


class Role:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def expect(self, text: str, timeout: float) -> str:
        """The first output line holding `text`, waited for (fails early if the process exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if not self.alive():
                time.sleep(0.2)  # the last lines
                if any(text in line for line in self.lines):
                    continue
                raise AssertionError(f"exited {self.proc.returncode} before {text!r}:\n{self.output}")
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.alive():
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code


@contextmanager
def role(command: str, data_dir: Path, **env: str) -> Iterator[Role]:
    """`twinmark <command>` with the test signer and operator token, data in `data_dir`, `env` as
    TWINMARK_* settings (keys without the prefix); killed on exit if still running."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TWINMARK_")}
    settings = {
        "DATA_DIR": str(data_dir),
        "SIGNER_KEY": SIGNER_KEY,
        "OPERATOR_TOKEN": OPERATOR,
        "WORKER_POLL_SECONDS": "0.05",
    } | env
    environment = base | {"PYTHONPATH": str(ROOT)} | {f"TWINMARK_{k.upper()}": v for k, v in settings.items()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", command],
        cwd=data_dir,  # no `.env` of the checkout
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Role(proc)
    try:
        yield running
    finally:
        if running.alive():
            running.proc.kill()
            running.proc.wait(timeout=10)
