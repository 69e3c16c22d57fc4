"""`/metrics` is the operator's, not the public's: absent (404) while no token is set, 401 without
the token or with a wrong one (the attack: reading a brand's volumes from outside), and with it the
Prometheus text format. Requests are labelled by route template, so a client sending endless
distinct paths or methods cannot grow the series count; with metrics off nothing is counted."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from registry.metrics import families, http, record
from tests.api.conftest import fresh_stack

TOKEN = "metrics-token-for-tests-0123456789"


def samples(text: str, name: str) -> list[dict[str, str]]:
    found = [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]
    return [s.labels for s in found]


def test_metrics_need_the_token_and_label_by_template(tmp_path: Path) -> None:
    with fresh_stack(tmp_path, metrics_token=TOKEN) as stack:
        client = stack.client
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "X"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401  # no scheme
        assert client.get("/metrics", headers=stack.operator).status_code == 401  # the operator's is not it

        # Many distinct raw paths: one series per route template (and one for "no route").
        for _ in range(30):
            client.get(f"/v1/verify/0x{uuid.uuid4().hex[:40]}/{uuid.uuid4().int % 10**9}")
            client.get(f"/nowhere/{uuid.uuid4().hex}")
            client.request(f"BREW{uuid.uuid4().hex[:8].upper()}", "/healthz")  # h11 takes any token as a method
        r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
        handlers = {labels["handler"] for labels in samples(r.text, "twinmark_http_requests_total")}
        assert "/v1/verify/{contract}/{token_id}" in handlers and "none" in handlers, handlers
        assert not any("nowhere" in h or h.startswith("/v1/verify/0x") for h in handlers), handlers
        methods = {labels["method"] for labels in samples(r.text, "twinmark_http_requests_total")}
        # The registry is the process's: other tests in this worker may have counted their own methods.
        assert "OTHER" in methods and methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
        statuses = {labels["status"] for labels in samples(r.text, "twinmark_http_requests_total")}
        assert statuses <= {"2xx", "3xx", "4xx", "5xx"} and "4xx" in statuses, statuses
        # The start-up's own RPC calls and the heartbeat of the loops holding their leases.
        assert samples(r.text, "twinmark_rpc_requests_total"), r.text[:2000]

        stack.runtime.settings.metrics_token = None
        gone = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert gone.status_code == 404 and gone.json()["type"].endswith("/not-found"), gone.text


def test_metrics_off_counts_nothing(tmp_path: Path) -> None:
    with fresh_stack(tmp_path, metrics_enabled=False, metrics_token=TOKEN) as stack:
        http.flush()
        before = families.http_requests.labels("GET", "/healthz", "2xx")._value.get()
        assert stack.client.get("/healthz").status_code == 200
        http.flush()
        assert families.http_requests.labels("GET", "/healthz", "2xx")._value.get() == before
        assert stack.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    record.enable(True)  # the next runtime in this process decides for itself anyway


def test_batched_requests_read_as_observed_one_by_one() -> None:
    """Requests added up in memory (registry/metrics/http.py) give the counter and histogram values
    Histogram.observe would have, bucket by bucket."""
    reference = Histogram("reference_seconds", "", registry=CollectorRegistry(), buckets=families.FAST_BUCKETS)
    handler = f"/test/{uuid.uuid4().hex}"
    timings = [0.0004, 0.001, 0.0011, 0.003, 0.25, 0.2500001, 9.9, 10.0, 42.0]
    for seconds in timings:
        record.http("GET", handler, 200, seconds)
        reference.observe(seconds)
    http.flush()
    ours = {
        (s.name.removeprefix("twinmark_http_request_duration_seconds"), s.labels.get("le")): s.value
        for metric in families.http_duration.collect()
        for s in metric.samples
        if s.labels.get("handler") == handler and not s.name.endswith("_created")
    }
    expected = {
        (s.name.removeprefix("reference_seconds"), s.labels.get("le")): s.value
        for metric in reference.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }
    assert ours == pytest.approx(expected), (ours, expected)
    assert families.http_requests.labels("GET", handler, "2xx")._value.get() == len(timings)
