"""Content held by more than one pinning service: a real stack (Anvil, SQLite or PostgreSQL, uvicorn
PSA servers held to the spec's OpenAPI document) mints twins and the pinner keeps their content
pinned on every provider. Loopback providers need `pin_allow_private_endpoints` (the outbound guard
refuses them otherwise, as `test_a_private_endpoint_is_refused_without_the_opt_in` shows)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from registry.chain.anvil import free_port
from registry.db.engine import session_scope
from registry.pinning.pinner import Pinner
from registry.pinning.service import durability_for, job_contents, pin_states
from registry.settings import PinProvider
from tests.api.conftest import Stack, _database_url, fresh_stack, physical, png
from tests.support.psa import PsaServer, psa_server

TOKEN_A = "psa-token-a-0123456789-very-secret"
TOKEN_B = "psa-token-b-9876543210-very-secret"
FAST: dict[str, Any] = {
    "pin_allow_private_endpoints": True,
    "pin_poll_seconds": 0.1,
    "pin_reconcile_seconds": 0.5,
    "pin_backoff_seconds": 0.1,
    "pin_backoff_max_seconds": 0.4,
}


def providers(**endpoints: str) -> list[dict[str, str]]:
    tokens = {"alpha": TOKEN_A, "beta": TOKEN_B}
    return [{"name": name, "endpoint": url, "token": tokens[name]} for name, url in endpoints.items()]


def until(what: Callable[[], Any], timeout: float = 30, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {message}")


def mint(stack: Stack, serial: str) -> tuple[dict[str, str], dict[str, Any]]:
    headers, _ = stack.new_brand(f"Maison {serial}", "MP")
    image = stack.upload(headers, png(hash(serial) % 10_000), "front.png")
    r = stack.client.post("/v1/twins", json=physical(serial, image=image), headers=headers)
    assert r.status_code == 202, r.text
    job = stack.wait_job(headers, r.json()["id"])
    assert job["state"] == "completed", job
    return headers, job


def job_durability(stack: Stack, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    return dict(stack.client.get(f"/v1/jobs/{job_id}", headers=headers).json()["durability"])


def by_name(durability: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in durability["providers"]}


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _database_url(request, tmp_path)


@pytest.fixture
def two() -> Iterator[tuple[PsaServer, str, PsaServer, str]]:
    with psa_server(TOKEN_A) as (a, url_a), psa_server(TOKEN_B) as (b, url_b):
        yield a, url_a, b, url_b
    assert not a.violations and not b.violations, a.violations + b.violations  # spec held both ways


def test_pinned_on_two_providers_is_durable_and_a_lost_pin_is_pinned_again(
    tmp_path: Path, database: str, two: tuple[PsaServer, str, PsaServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    a, url_a, b, url_b = two
    caplog.set_level(logging.DEBUG)
    settings = {"pin_providers": providers(alpha=url_a, beta=url_b), "pin_replicas": 2, **FAST}
    with fresh_stack(tmp_path, database_url=database, **settings) as stack:
        headers, job = mint(stack, "PIN-OK-1")
        twin = job["twins"][0]
        durable = until(lambda: (d := job_durability(stack, headers, job["id"]))["durable"] and d, message="durable")
        assert durable["required"] == 2 and durable["pinned_on"] == 2
        assert {p["state"] for p in durable["providers"]} == {"pinned"}
        assert all(p["total"] == 2 for p in durable["providers"])  # the batch directory and the image
        directory = job["batches"][0]["directory_cid"]
        image = twin_image(stack, twin)
        for server in (a, b):
            assert server.holds(directory) and server.holds(image)
        record = stack.client.get(f"/v1/twins/{twin['contract']}/{twin['token_id']}").json()
        assert record["durability"]["durable"] is True
        assert {p["name"]: p["pinned"] for p in record["durability"]["providers"]} == {"alpha": 2, "beta": 2}
        assert a.authorizations == {f"Bearer {TOKEN_A}"} and b.authorizations == {f"Bearer {TOKEN_B}"}
        assert "pinner" in stack.client.get("/readyz").json()["loops"]  # its heartbeat, like the other loops

        # Provider alpha loses the directory: reconciliation finds it missing and pins it again.
        posts = a.added.count(directory)
        a.lose(directory)
        until(lambda: a.added.count(directory) > posts and a.holds(directory), message="re-pinned")
        assert stack.runtime.pinner is not None
        assert stack.runtime.pinner.counters.snapshot().get(("alpha", "lost"), 0) >= 1
        until(lambda: job_durability(stack, headers, job["id"])["durable"], message="durable again")
        assert ("GET", "/pins") in a.calls  # reconciliation asked GET /pins?cid=...
        # beta gives up on the image (its request turns `failed`): requested again, pinned again.
        posts = b.added.count(image)
        b.fail(image)
        until(lambda: b.added.count(image) > posts and b.holds(image), message="failed pin requested again")
        until(lambda: job_durability(stack, headers, job["id"])["durable"], message="durable after failure")
        with session_scope(stack.runtime.engine) as s:
            assert pin_states(s) == {("alpha", "pinned"): 2, ("beta", "pinned"): 2}

        # A content update: the twin's new document is pinned too.
        updated = physical("PIN-OK-1", image=image) | {"name": "Sac Iconique (repaired)"}
        r = stack.client.put(f"/v1/twins/{twin['contract']}/{twin['token_id']}/metadata", json=updated, headers=headers)
        assert r.status_code == 200, r.text
        new_root = r.json()["token_uri"].removeprefix("ipfs://")
        until(lambda: a.holds(new_root) and b.holds(new_root), message="the updated document pinned")
        record = until(lambda: (t := twin_record(stack, twin))["durability"]["durable"] and t, message="durable")
        assert record["token_uri"] == f"ipfs://{new_root}"
        assert all(p["total"] == 2 for p in record["durability"]["providers"])  # the new document and the image
        answers = stack.client.get(f"/v1/jobs/{job['id']}", headers=headers).text + str(record)
    for secret in (TOKEN_A, TOKEN_B):
        assert secret not in caplog.text and secret not in answers
    assert "lost" in caplog.text and "alpha" in caplog.text


def twin_record(stack: Stack, twin: dict[str, Any]) -> dict[str, Any]:
    return dict(stack.client.get(f"/v1/twins/{twin['contract']}/{twin['token_id']}").json())


def twin_image(stack: Stack, twin: dict[str, Any]) -> str:
    record = stack.client.get(f"/v1/twins/{twin['contract']}/{twin['token_id']}").json()
    return str(record["metadata"]["image"]).removeprefix("ipfs://")


def test_a_provider_down_is_retried_and_the_content_is_not_durable_meanwhile(
    tmp_path: Path, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # beta: nothing listens there yet (connections refused)
    with psa_server(TOKEN_A) as (a, url_a):
        endpoints = providers(alpha=url_a, beta=f"http://127.0.0.1:{port}")
        with fresh_stack(tmp_path, database_url=database, pin_providers=endpoints, pin_replicas=2, **FAST) as stack:
            assert stack.runtime.pinner is not None
            counters = stack.runtime.pinner.counters
            headers, job = mint(stack, "PIN-DOWN-1")
            until(lambda: by_name(job_durability(stack, headers, job["id"]))["alpha"]["state"] == "pinned")
            until(lambda: counters.snapshot().get(("beta", "failed:refused"), 0) >= 3, message="retried")
            shown = job_durability(stack, headers, job["id"])
            assert shown["durable"] is False and shown["pinned_on"] == 1
            beta = by_name(shown)["beta"]
            assert (beta["state"], beta["pinned"], beta["error"]) == ("pending", 0, "refused")
            # beta comes up answering 503 (Retry-After: 1): still retried, still not durable.
            with psa_server(TOKEN_B, port=port) as (b, _):
                b.mode = "down"
                until(lambda: counters.snapshot().get(("beta", "failed:http-503"), 0) >= 2, message="503s retried")
                shown = job_durability(stack, headers, job["id"])
                assert shown["durable"] is False and by_name(shown)["beta"]["error"] == "http-503"
                # Retry-After: 1 is honoured over the 0.4 s backoff cap, and one probe goes per wait,
                # not one request per waiting content.
                before = len(b.calls)
                time.sleep(3.0)
                assert len(b.calls) - before <= 4, b.calls
                b.mode = "ok"  # and recovers: the same rows are pinned, nothing was lost meanwhile
                until(lambda: job_durability(stack, headers, job["id"])["durable"], message="durable after recovery")
                assert not a.violations and not b.violations, a.violations + b.violations
    assert caplog.text.count("pinning: beta failed") <= 2  # one line per outage, not one per attempt
    assert TOKEN_B not in caplog.text


@pytest.mark.parametrize("mode", ["garbage", "huge"])
def test_a_provider_answering_nonsense_is_a_clear_error_and_nothing_is_lost(tmp_path: Path, mode: str) -> None:
    with psa_server(TOKEN_A) as (a, url_a):
        a.mode = mode
        with fresh_stack(tmp_path, pin_providers=providers(alpha=url_a), **FAST) as stack:
            headers, job = mint(stack, f"PIN-{mode.upper()}-1")
            expected = "invalid-response" if mode == "garbage" else "too-large"
            until(lambda: by_name(job_durability(stack, headers, job["id"]))["alpha"]["error"] == expected)
            shown = job_durability(stack, headers, job["id"])
            assert shown["durable"] is False and by_name(shown)["alpha"]["state"] == "pending"
            a.mode = "ok"
            until(lambda: job_durability(stack, headers, job["id"])["durable"], message="pinned after recovery")
            assert by_name(job_durability(stack, headers, job["id"]))["alpha"]["error"] is None
        assert not a.violations, a.violations


def test_a_private_endpoint_is_refused_without_the_opt_in(tmp_path: Path) -> None:
    with psa_server(TOKEN_A) as (a, url_a):
        settings = FAST | {"pin_allow_private_endpoints": False}
        with fresh_stack(tmp_path, pin_providers=providers(alpha=url_a), **settings) as stack:
            headers, job = mint(stack, "PIN-SSRF-1")
            until(lambda: by_name(job_durability(stack, headers, job["id"]))["alpha"]["error"] == "blocked")
            time.sleep(0.5)
        assert a.calls == []  # never contacted


def test_content_minted_before_a_provider_was_configured_is_pinned_once_it_is(tmp_path: Path) -> None:
    with fresh_stack(tmp_path) as stack:
        headers, job = mint(stack, "PIN-NONE-1")
        assert stack.runtime.pinner is None
        assert stack.client.get(f"/v1/jobs/{job['id']}", headers=headers).json()["durability"] is None
        assert "pinner" not in stack.runtime.heartbeats()
        # The operator adds a provider (a restart with it configured): what was minted before is pinned.
        with psa_server(TOKEN_A) as (a, url_a):
            configured = [PinProvider.model_validate(p) for p in providers(alpha=url_a)]
            later = stack.runtime.settings.model_copy(update={"pin_providers": configured} | FAST)
            pinner = Pinner(stack.runtime.engine, later)
            with session_scope(stack.runtime.engine) as s:
                contents = job_contents(s, job["id"])
            assert job["batches"][0]["directory_cid"] in contents and len(contents) == 2

            def durable() -> bool:
                pinner.step()
                with session_scope(stack.runtime.engine) as s:
                    shown = durability_for(s, contents, later)
                return shown is not None and shown.durable

            until(durable, message="pinned after the provider was added")
            pinner.close()
            assert sorted(a.added) == sorted(contents) and not a.violations


def test_a_refused_token_is_reported_without_showing_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with psa_server("the-token-the-service-expects") as (a, url_a):
        with fresh_stack(tmp_path, pin_providers=providers(alpha=url_a), **FAST) as stack:
            headers, job = mint(stack, "PIN-401-1")
            until(lambda: by_name(job_durability(stack, headers, job["id"]))["alpha"]["error"] == "http-401")
            answer = stack.client.get(f"/v1/jobs/{job['id']}", headers=headers).text
        assert not a.violations, a.violations
        assert a.authorizations == {f"Bearer {TOKEN_A}"}  # sent only as the Authorization header
    assert "pinning: alpha failed (http-401) (check its endpoint and token)" in caplog.text
    assert TOKEN_A not in caplog.text and TOKEN_A not in answer
