"""Shared by the benchmarks: run `twinmark serve` on a fresh embedded stack in a child process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from registry.chain.anvil import free_port

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATA = ROOT / ".bench"

__all__ = ["ROOT", "Service", "cpu_seconds", "free_port", "parse_wrk", "service", "wait_http"]


@dataclass
class Service:
    url: str
    operator_token: str
    data_dir: Path
    pid: int = 0  # the serving process (its CPU time: `cpu_seconds`)

    def brand(self, name: str, symbol: str) -> tuple[dict[str, str], str]:
        r = httpx.post(
            f"{self.url}/v1/brands",
            json={"name": name, "symbol": symbol},
            headers={"Authorization": f"Bearer {self.operator_token}"},
            timeout=60,
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['api_key']}"}, r.json()["collections"][0]["address"]


def parse_wrk(out: str) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms) and the request count from `wrk --latency` output."""
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "requests": requests}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` and all its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


@contextmanager
def service(root: Path = ROOT, module: str = "api.cli", **env: str) -> Iterator[Service]:
    """`twinmark serve` of the checkout at `root` (another one: a before/after in the same run);
    `module`: what runs it (`benchmarks.serve_nothing` adds a do-nothing route)."""
    # The data directory lives under the checkout (`.bench/`), where a service keeps its data, not in
    # /tmp: on this VM creating files under /tmp is ~10x slower (2,000 blocks: 1.4-2.8 s vs 0.25 s).
    BENCH_DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="twinmark-bench-", dir=BENCH_DATA) as tmp:
        port = free_port()
        full_env = os.environ | {
            "TWINMARK_DATA_DIR": tmp,
            "TWINMARK_ANVIL_PORT": str(free_port()),
            "TWINMARK_PORT": str(port),
            # This checkout's code, not the one the shared virtualenv's editable install points at.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
            **env,
        }
        # `python -m api.cli` from this tree: the code measured is the code beside the script, whatever
        # checkout the environment's `twinmark` entry point was installed from. Logs go to a file: a
        # pipe nobody reads would stall the service once it filled.
        log = (Path(tmp) / "serve.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *(["serve"] if module == "api.cli" else [])],
            cwd=root,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/healthz", timeout=300)  # a loaded machine starts it slowly
            yield Service(url, (Path(tmp) / "operator-token").read_text().strip(), Path(tmp), proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


@contextmanager
def profiled(pid: int, py_spy: str | None, seconds: float) -> Iterator[Path | None]:
    """`py-spy record` of the process `pid` for `seconds` (only the threads holding the GIL: with two
    cores and one process, the GIL is what a request waits for), as collapsed stacks; nothing without
    `py_spy` (a path to its binary: `pip install py-spy` into any environment)."""
    if py_spy is None:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="twinmark-profile-", suffix=".txt")  # kept: speedscope opens it
    os.close(fd)
    out = Path(name)
    command = [py_spy, "record", "--gil", "--nonblocking", "-r", "200", "-d", f"{seconds:.0f}", "-f", "raw"]
    proc = subprocess.Popen(
        [*command, "-o", str(out), "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield out
    finally:
        proc.wait(timeout=seconds + 60)


# A thread's first frame: `Thread._bootstrap` in recent py-spy, `_bootstrap` (threading.py) before.
_THREAD = re.compile(r"(^|;)(Thread\.)?_bootstrap(_inner)? \(threading\.py")


def profile_summary(raw: Path, top: int = 16) -> list[str]:
    """Where the samples went, as printable lines: the share taken by the event loop (no thread of its
    own) against the threads (the request thread pool, the mint worker and other loops), then the
    project's functions (`api/`, `registry/`) by inclusive share (a function counts once per sample)."""
    total, on_loop, inclusive = 0, 0, dict[str, int]()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        on_loop += n if not _THREAD.search(stack) else 0
        frames = {re.sub(r":\d+\)$", ")", f) for f in stack.split(";")}  # a function, whatever its line
        for frame in frames:
            if re.search(r"\((api|registry)/", frame):
                inclusive[frame] = inclusive.get(frame, 0) + n
    share = 100 / max(1, total)
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    loop = on_loop * share
    head = [f"{total} samples; the event loop's own thread {loop:.1f} %, other threads {100 - loop:.1f} %"]
    return head + [f"{n * share:5.1f} %  {frame}" for frame, n in ranked]
