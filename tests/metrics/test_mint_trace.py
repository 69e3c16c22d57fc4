"""One mint traced from request to receipt across processes: `twinmark serve` (API, mint worker
elsewhere) and a standalone `twinmark worker`, both exporting with OTLP/HTTP (configured only by the
standard OTEL_* variables) to a collector stand-in that keeps the spans in memory. The request's
server span and the worker's spans, picked up later from the job row, share one trace id, and the
worker's `mint.send` is a child of a span of the API process, with the transaction's and the
statements' spans under it, and `mint.confirm` (the receipt) and `mint.record` after. Traces are off
by default: only an exporter named in OTEL_TRACES_EXPORTER turns them on, OTEL_SDK_DISABLED wins."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from registry.chain.anvil import Anvil, free_port
from registry.metrics import tracing
from tests.api.conftest import OPERATOR, physical
from tests.metrics.test_prometheus_scrape import leases, until
from tests.resilience.roles import role

Span = dict[str, Any]


@contextmanager
def collector() -> Iterator[tuple[str, list[Span]]]:
    """OTLP/HTTP's trace endpoint, the spans decoded into memory with their service's name."""
    spans: list[Span] = []

    class Traces(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["content-length"])))
            for resource in request.resource_spans:
                service = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        spans.append(
                            {
                                "service": service,
                                "name": s.name,
                                "trace": s.trace_id.hex(),
                                "id": s.span_id.hex(),
                                "parent": s.parent_span_id.hex(),
                            }
                        )
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Traces)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/traces", spans
    finally:
        server.shutdown()


def test_one_mint_is_one_trace_across_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    anvil = Anvil()
    anvil.start()
    port = free_port()
    settings = {"chain_rpc_url": anvil.url, "worker_in_process": "false"}
    try:
        with collector() as (endpoint, spans):
            monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
            monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # milliseconds: spans leave quickly
            monkeypatch.setenv("OTEL_SERVICE_NAME", "twinmark-worker")
            with role("worker", tmp_path, **settings) as worker:
                until("worker lease", lambda: "mint-worker" in leases(tmp_path / "twinmark.db") or not worker.alive())
                assert worker.alive(), worker.output
                monkeypatch.setenv("OTEL_SERVICE_NAME", "twinmark-api")
                with role("serve", tmp_path, port=str(port), **settings) as api:
                    api.expect("listening on", 90)
                    until("the API", lambda: _answers(f"http://127.0.0.1:{port}") or not api.alive(), 30)
                    assert api.alive(), api.output
                    job_id = mint(f"http://127.0.0.1:{port}")
                    trace = until("the worker's spans", lambda: _worker_trace(spans, job_id), 30)
        by_service: dict[str, list[Span]] = {}
        for s in spans:
            if s["trace"] == trace:
                by_service.setdefault(s["service"], []).append(s)
        assert set(by_service) == {"twinmark-api", "twinmark-worker"}, by_service.keys()
        api_spans = {s["id"]: s for s in by_service["twinmark-api"]}
        server = [s for s in api_spans.values() if s["name"] == "POST /v1/twins"]
        assert len(server) == 1 and server[0]["parent"] == "", api_spans
        send = next(s for s in by_service["twinmark-worker"] if s["name"] == "mint.send")
        assert send["parent"] in api_spans, (send, api_spans)  # continued from the request, not a new root
        names = {s["name"] for s in by_service["twinmark-worker"]}
        assert "mint.record" in names, names  # the receipt's side: the twins recorded
        assert {"mint.confirm", "tx.send"} <= names, names  # the receipt awaited; the transaction sent
        statements = [s for s in spans if s["name"].split()[0].lower() in ("select", "insert", "update")]
        assert any(s["parent"] == send["id"] for s in statements), "no statement inside mint.send"
        assert any(s["parent"] in api_spans for s in statements if s["trace"] == trace), "no API statement"
    finally:
        anvil.stop()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def mint(base: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as client:
        r = client.post(
            "/v1/brands", json={"name": "Maison Trace", "symbol": "MT"}, headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert r.status_code == 201, r.text
        key = {"Authorization": f"Bearer {r.json()['api_key']}"}
        r = client.post("/v1/twins", json=physical("SN-TRACE-1"), headers=key)
        assert r.status_code == 202, r.text
        job_id = str(r.json()["id"])
        deadline = time.monotonic() + 60
        while client.get(f"/v1/jobs/{job_id}", headers=key).json()["state"] != "completed":
            assert time.monotonic() < deadline, "job not completed"
            time.sleep(0.1)
        return job_id


def _worker_trace(spans: list[Span], job_id: str) -> str | None:
    """The trace id of the worker's `mint.record` span once it and the request's span arrived."""
    record = [s for s in spans if s["service"] == "twinmark-worker" and s["name"] == "mint.record"]
    api = {s["trace"] for s in spans if s["service"] == "twinmark-api" and s["name"] == "POST /v1/twins"}
    matching = [s["trace"] for s in record if s["trace"] in api]
    return matching[0] if matching else None


def test_traces_are_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    assert not tracing.wanted()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not tracing.wanted()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    assert tracing.wanted()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.wanted()
