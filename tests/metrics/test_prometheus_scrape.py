"""A real Prometheus (Debian's package, run here with its own config in a temp dir) scrapes a running
multi-process service: two uvicorn workers (`uvicorn api.asgi:app --workers 2`) and a standalone
`twinmark worker`, sharing one PROMETHEUS_MULTIPROC_DIR. After a mint, a verification and a webhook,
every family is in Prometheus with values that make sense: the verify route's requests, the mint's
transaction through queued, sent and mined, nonces without drift, the indexer at the chain's head, the
webhook delivered and the outbox empty, the scan ingested, the job finished, content read and
written, the content pinned at a pinning service (a PSA server), every loop beating. The multiprocess
dir is what lets one worker's `/metrics` show the standalone worker's counts."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.chain.anvil import Anvil, free_port
from tests.api.conftest import OPERATOR, SIGNER_KEY, physical
from tests.resilience.roles import ROOT, role
from tests.support.processes import running
from tests.support.psa import psa_server

TOKEN = "scrape-token-for-tests-0123456789"
PSA_TOKEN = "psa-token-for-the-scrape-test"


@contextmanager
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    got: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", got
    finally:
        server.shutdown()


def until(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


def leases(db: Path) -> set[str]:
    try:
        with sqlite3.connect(db) as conn:
            return {row[0] for row in conn.execute("SELECT name FROM leases")}
    except sqlite3.Error:
        return set()


def test_prometheus_scrapes_every_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ExitStack() as stack:
        _scrape(tmp_path, monkeypatch, stack)


def _scrape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack: ExitStack) -> None:
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus missing: scripts/bootstrap.sh --with-prometheus installs Debian's package"
    data, multiproc, prom = tmp_path / "data", tmp_path / "multiproc", tmp_path / "prom"
    for d in (data, multiproc, prom):
        d.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(multiproc))  # the worker role inherits it
    anvil = Anvil()
    anvil.start()
    api_port, prom_port = free_port(), free_port()
    psa, psa_url = stack.enter_context(psa_server(PSA_TOKEN))
    provider = [{"name": "alpha", "endpoint": psa_url, "token": PSA_TOKEN}]
    shared = {
        "pin_providers": json.dumps(provider),
        "pin_allow_private_endpoints": "true",
        "pin_poll_seconds": "0.1",
        "chain_rpc_url": anvil.url,
        "metrics_token": TOKEN,
        "metrics_sample_seconds": "0.5",
        "worker_in_process": "false",
        "webhook_allow_private_targets": "true",
        "webhook_backoff_seconds": "0.2",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINMARK_")} | {"PYTHONPATH": str(ROOT)}
    env |= {f"TWINMARK_{k.upper()}": v for k, v in shared.items()}
    env |= {"TWINMARK_DATA_DIR": str(data), "TWINMARK_SIGNER_KEY": SIGNER_KEY, "TWINMARK_OPERATOR_TOKEN": OPERATOR}
    api = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--workers", "2", "--host", "127.0.0.1"]
    api += ["--port", str(api_port), "--no-proxy-headers", "--log-level", "warning"]
    (prom / "prometheus.yml").write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "twinmark",
                        "authorization": {"credentials": TOKEN},
                        "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}],
                    }
                ],
            }
        )
    )
    prom_args = [prometheus, f"--config.file={prom / 'prometheus.yml'}", f"--storage.tsdb.path={prom / 'tsdb'}"]
    prom_args += [f"--web.listen-address=127.0.0.1:{prom_port}"]
    try:
        # The standalone worker first: it deploys the contracts and migrates the database, so the two
        # API workers start on a ready data dir instead of racing each other through both.
        with role("worker", data, **shared) as worker, receiver() as (hook_url, hooks):
            until("worker lease", lambda: "mint-worker" in leases(data / "twinmark.db") or not worker.alive(), 90)
            assert worker.alive(), worker.output
            with (
                running(api, env, data, tmp_path / "api.log"),
                running(prom_args, env, prom, tmp_path / "prometheus.log"),
                httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as client,
            ):
                until("API", lambda: _answers(client), 90)
                scenario(client, hook_url, hooks)
                check_prometheus(f"http://127.0.0.1:{prom_port}")
                assert not psa.violations, psa.violations  # the pinner spoke the Pinning Service API
    finally:
        anvil.stop()


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def scenario(client: httpx.Client, hook_url: str, hooks: list[bytes]) -> None:
    """A mint (in the standalone worker), a verification, a webhook delivery."""
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    r = client.post("/v1/brands", json={"name": "Maison Metrics", "symbol": "MM"}, headers=operator)
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['api_key']}"}
    r = client.post("/v1/webhooks", json={"url": hook_url, "event_types": ["minted"]}, headers=key)
    assert r.status_code == 201, r.text
    r = client.post("/v1/twins", json=physical("SN-METRICS-1"), headers=key)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    job = until("job", lambda: _finished(client, key, job_id), 60)
    assert job["state"] == "completed", job
    twin = job["twins"][0]
    r = client.get(f"/v1/verify/{twin['contract']}/{twin['token_id']}")
    assert r.status_code == 200, r.text
    until("webhook", lambda: hooks, 30)


def _finished(client: httpx.Client, key: dict[str, str], job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=key).json()
    return job if job["state"] in ("completed", "failed") else None


def check_prometheus(base: str) -> None:
    def query(expr: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
        assert r.status_code == 200, r.text
        return list(r.json()["data"]["result"])

    def value(expr: str) -> float | None:
        found = query(expr)
        return float(found[0]["value"][1]) if found else None

    def eventually(expr: str, ok: Any, timeout: float = 30.0) -> float:
        seen: list[float | None] = []

        def check() -> bool:
            seen.append(value(expr))
            return seen[-1] is not None and bool(ok(seen[-1]))

        try:
            until(expr, check, timeout)
        except AssertionError:
            raise AssertionError(f"{expr}: last value {seen[-1] if seen else None}") from None
        assert seen[-1] is not None
        return seen[-1]

    verify = 'handler="/v1/verify/{contract}/{token_id}"'
    eventually(f'sum(twinmark_http_requests_total{{{verify},status="2xx"}})', lambda v: v >= 1)
    eventually(f"sum(twinmark_http_request_duration_seconds_count{{{verify}}})", lambda v: v >= 1)
    # Brand creation (API workers) and the mint (the standalone worker) sent transactions.
    for state in ("queued", "sent", "mined"):
        eventually(f'sum(twinmark_transactions_total{{state="{state}"}})', lambda v: v >= 2)
    for state in ("replaced", "dropped"):
        eventually(f'sum(twinmark_transactions_total{{state="{state}"}})', lambda v: v == 0)
    eventually('sum(twinmark_transaction_processing_seconds_count{stage="queued_to_mined"})', lambda v: v >= 2)
    eventually('sum(twinmark_transaction_processing_seconds_sum{stage="sent_to_mined"})', lambda v: 0 < v < 60)
    local = eventually('max(twinmark_nonces{nonce_type="local"})', lambda v: v >= 2)
    eventually('max(twinmark_nonces{nonce_type="onchain"})', lambda v: v == local)
    eventually("max(twinmark_nonce_drift)", lambda v: v == 0)
    head = eventually("max(twinmark_chain_head_block)", lambda v: v > 0)
    eventually("max(twinmark_indexer_head_block)", lambda v: 0 < v <= head + 5 and v >= head - 5)
    eventually("sum(twinmark_indexer_reorgs_total)", lambda v: v == 0)
    eventually("sum(twinmark_rpc_requests_total)", lambda v: v > 10)
    eventually('sum(twinmark_rpc_requests_total{method="eth_sendRawTransaction"})', lambda v: v >= 2)
    eventually("sum(twinmark_rpc_errors_total)", lambda v: v >= 0)
    eventually("sum(twinmark_rpc_request_duration_seconds_count)", lambda v: v > 10)
    eventually('sum(twinmark_webhook_deliveries_total{outcome="delivered"})', lambda v: v >= 1)
    eventually("sum(twinmark_webhook_delivery_seconds_count)", lambda v: v >= 1)
    eventually("max(twinmark_webhook_outbox_backlog)", lambda v: v == 0)
    eventually("max(twinmark_webhook_outbox_oldest_age_seconds)", lambda v: v == 0)
    eventually("sum(twinmark_scans_ingested_total)", lambda v: v >= 1)
    eventually("sum(twinmark_scans_dropped_total)", lambda v: v == 0)
    eventually("sum(twinmark_mint_jobs)", lambda v: v == 0)  # accepted and running: none left
    # Counted in the standalone worker (it finished the job), read through an API worker's /metrics.
    eventually('sum(twinmark_mint_jobs_finished_total{state="completed"})', lambda v: v == 1)
    eventually("sum(twinmark_content_writes_total)", lambda v: v >= 2)
    eventually("sum(twinmark_content_reads_total)", lambda v: v >= 1)
    eventually("sum(twinmark_content_integrity_failures_total)", lambda v: v == 0)
    # The mint's directory (and the image-less twin's metadata) pinned at the one provider.
    eventually('sum(twinmark_pins{provider="alpha",state="pinned"})', lambda v: v >= 1)
    eventually('sum(twinmark_pins{provider="alpha",state!="pinned"})', lambda v: v == 0)
    for loop in ("mint-worker", "indexer:31337", "webhook-sender", "scan-writer", "pinner"):
        eventually(f'time() - max(twinmark_loop_heartbeat_timestamp_seconds{{loop="{loop}"}})', lambda v: v < 15)
