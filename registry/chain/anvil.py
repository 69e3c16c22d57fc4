"""A local Anvil node as a child process: the embedded chain for development, tests and benchmarks."""

from __future__ import annotations

import ctypes
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def anvil_binary() -> str:
    """The Anvil executable: `ANVIL_BIN`, the npm platform package, or `anvil` on PATH."""
    if env := os.environ.get("ANVIL_BIN"):
        return env
    native = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if native.exists():
        return str(native)
    found = shutil.which("anvil")
    if found is None:
        raise FileNotFoundError("anvil not found: run `npm ci` (package @foundry-rs/anvil) or set ANVIL_BIN")
    return found


def _die_with_parent() -> None:
    """Linux: SIGTERM the node when the process that started it dies, even by SIGKILL. Files the node
    writes (its state dump) are owner-only."""
    os.umask(0o077)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# Claims on ports handed out (open, locked files): the last few hundred are held, long enough for their
# servers to bind them; a claim goes when its process ends, however it ends.
_CLAIMS: deque[int] = deque()
_MAX_CLAIMS = 256
_LOWEST_PORT = 20_000


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _claim(port: int) -> bool:
    """True if no other process (a parallel test worker, another service) holds a claim on `port`."""
    folder = Path(tempfile.gettempdir()) / "twinmark-ports"
    folder.mkdir(exist_ok=True)
    fd = os.open(folder / f"{port}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _CLAIMS.append(fd)
    if len(_CLAIMS) > _MAX_CLAIMS:
        os.close(_CLAIMS.popleft())
    return True


def free_port() -> int:
    """A loopback TCP port, free now, for a server about to start. Taken below the kernel's ephemeral
    range (no outgoing connection gets it meanwhile) and claimed by a lock file, so that two processes
    calling this at once (parallel test workers) never get the same port."""
    floor = _ephemeral_floor()
    for _ in range(500 if floor > _LOWEST_PORT + 1000 else 0):
        port = random.randrange(_LOWEST_PORT, floor)  # noqa: S311 - not a secret
        if not _claim(port):
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    with socket.socket() as s:  # an unusual port range: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """Starts Anvil on loopback; `state_path` keeps the chain across restarts."""

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = 31337,
        state_path: Path | None = None,
        extra_args: tuple[str, ...] = (),
        hardfork: str = "prague",
    ) -> None:
        self.port = port or free_port()
        self.chain_id = chain_id
        self.state_path = state_path
        self.extra_args = extra_args
        # Prague: the gas figures in the README are measured under it. Osaka adds the P-256
        # precompile (EIP-7951 at 0x100), which passkey accounts use when present.
        self.hardfork = hardfork
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        args = [
            anvil_binary(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--hardfork",
            self.hardfork,
            "--silent",
            *self.extra_args,
        ]
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            args += ["--state", str(self.state_path), "--preserve-historical-states"]
        self._proc = subprocess.Popen(  # noqa: S603
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"anvil exited with {self._proc.returncode}: {err}")
            try:
                body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
                if httpx.post(self.url, json=body, timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"anvil did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        """Stops Anvil with SIGTERM so it writes its state file before exiting."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> Anvil:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
