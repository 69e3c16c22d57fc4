"""`twinmark serve` itself, as an operator starts it: a loopback client cannot pick its rate-limit key
with X-Forwarded-For, and a connection that never finishes its request head is closed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from registry.chain.anvil import Anvil, free_port
from tests.api.conftest import OPERATOR, SIGNER_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    anvil = Anvil()
    anvil.start()
    port, tmp = free_port(), tmp_path_factory.mktemp("serve")
    env = {
        "TWINMARK_DATA_DIR": str(tmp),
        "TWINMARK_CHAIN_RPC_URL": anvil.url,
        "TWINMARK_SIGNER_KEY": SIGNER_KEY,
        "TWINMARK_OPERATOR_TOKEN": OPERATOR,
        "TWINMARK_INDEXER_IN_PROCESS": "false",
        "TWINMARK_FRESH_LISTINGS_PER_MINUTE": "2",
        "TWINMARK_HEADER_TIMEOUT_SECONDS": "1",
        "FORWARDED_ALLOW_IPS": "*",  # uvicorn's own proxy handling would believe anyone: it must be off
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "twinmark serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        anvil.stop()


def test_serve_ignores_x_forwarded_for_from_an_untrusted_peer(served: str) -> None:
    def listing(i: int) -> int:
        owner = Account.create().address
        headers = {"X-Forwarded-For": f"198.51.100.{i}"}
        return httpx.get(f"{served}/v1/owners/{owner}/twins?fresh=true", headers=headers).status_code

    assert [listing(i) for i in range(3)] == [200, 200, 429]


def test_serve_closes_a_connection_that_never_finishes_its_head(served: str) -> None:
    host, port = served.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)))
    s.settimeout(10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    assert s.recv(4096).startswith(b"HTTP/1.1 408")
    assert s.recv(4096) == b""  # closed
    assert time.monotonic() - started < 5
    s.close()
