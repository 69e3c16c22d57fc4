"""Readiness sees the background loops of every process (issue 19, finding 8): an API process whose
mint worker runs elsewhere is not ready while no worker runs anywhere, ready (with the worker's
heartbeat age and process) while a standalone `twinmark worker` runs, and not ready again soon after
that worker is killed with SIGKILL (no clean release: only its heartbeat stops)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from registry.chain.anvil import Anvil
from tests.api.conftest import Stack, running_stack, stack_settings
from tests.resilience.roles import role

STALE = 3.0
LEASE = 2.0  # renewed (a heartbeat) every second


def _until(stack: Stack, ok: Callable[[httpx.Response], bool], timeout: float) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    while not ok(r := stack.client.get("/readyz")):
        assert time.monotonic() - started < timeout, r.text
        time.sleep(0.2)
    return r, time.monotonic() - started


def _not_ready_for(loop: str) -> Callable[[httpx.Response], bool]:
    def check(r: httpx.Response) -> bool:
        body: dict[str, Any] = r.json()
        return r.status_code == 503 and body["type"].endswith("/not-ready") and loop in body["detail"]

    return check


def test_readiness_follows_a_worker_in_another_process(tmp_path: Path) -> None:
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp_path,
        anvil,
        worker_in_process=False,  # the indexer and the webhook sender run here, the mint worker nowhere yet
        loop_stale_seconds=STALE,
        worker_lease_seconds=LEASE,
    )
    with running_stack(settings, anvil) as stack:
        first = stack.client.get("/readyz")  # just started: loops get `STALE` seconds to show up
        assert first.status_code == 200 and first.json()["loops"]["mint-worker"] is None, first.text

        r, _ = _until(stack, _not_ready_for("mint-worker"), timeout=STALE + 10)
        assert "indexer" not in r.json()["detail"] and "webhook-sender" not in r.json()["detail"], r.text
        assert r.json()["loops"]["mint-worker"] is None and r.json()["loops"]["indexer"] < STALE, r.text

        extra = {"worker_lease_seconds": str(LEASE), "worker_in_process": "false"}
        with role("worker", tmp_path, chain_rpc_url=anvil.url, **extra) as worker:
            r, _ = _until(stack, lambda r: r.status_code == 200, timeout=60)
            body = r.json()
            assert 0 <= body["loops"]["mint-worker"] < STALE, body
            assert body["holders"]["mint-worker"].endswith(f":{worker.pid}"), body
            assert set(body["loops"]) == {"mint-worker", "indexer", "webhook-sender"}, body

            worker.stop(signal.SIGKILL)
            r, took = _until(stack, _not_ready_for("mint-worker"), timeout=STALE + 10)
            assert took < STALE + 2, took  # its heartbeat was at most a renewal period old
            assert r.json()["loops"]["mint-worker"] > STALE, r.text
