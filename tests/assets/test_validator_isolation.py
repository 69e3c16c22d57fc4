"""Issue 19: one brand's hostile models must not starve another brand's uploads. Here the pre-check is
opened wide (as if a model slipped past it), so brand A's 596-byte sparse models reach the validator
and keep a worker busy until the per-file limit kills it; brand B's valid model gets 201 meanwhile
(before: it waited 30 s behind the one shared worker and got 503)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from registry.assets import budget, gltf
from tests.api.conftest import Stack, fresh_stack
from tests.assets.builders import Model, Part, build, sparse_glb

LIMIT = 8.0  # per-file seconds in this stack: longer than B may wait, so waiting behind A would fail


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str], dict[str, str]]]:
    with fresh_stack(
        tmp_path_factory.mktemp("validator-isolation"),
        gltf_validator_timeout_seconds=LIMIT,
        gltf_validator_workers=2,
        gltf_validations_per_brand=1,
        gltf_max_triangles=10**12,
        gltf_max_vertices=10**12,
    ) as stack:
        vandal, _ = stack.new_brand("Maison Vandal", "VNDL")
        honest, _ = stack.new_brand("Maison Honest", "HNST")
        yield stack, vandal, honest


def upload(stack: Stack, headers: dict[str, str], data: bytes) -> Any:
    return stack.client.post("/v1/assets", files={"file": ("m.glb", io.BytesIO(data))}, headers=headers)


class Upload(threading.Thread):
    def __init__(self, stack: Stack, headers: dict[str, str], data: bytes) -> None:
        super().__init__()
        self.args_, self.response, self.elapsed = (stack, headers, data), None, 0.0

    def run(self) -> None:
        started = time.monotonic()
        self.response = upload(*self.args_)
        self.elapsed = time.monotonic() - started


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def busy_workers() -> int:
    return sum(w._lock.locked() for w in gltf._pool._workers)


def test_a_brands_hostile_models_leave_the_other_brands_upload_alone(
    world: tuple[Stack, dict[str, str], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, vandal, honest = world
    monkeypatch.setattr(budget, "MAX_WORK", 2**64)
    monkeypatch.setattr(budget, "WORK_PER_BYTE", 2**64)
    monkeypatch.setattr(gltf, "_timed_out", {})
    monkeypatch.setattr(gltf, "BRAND_WAITERS", 1)
    assert upload(stack, honest, build()).status_code == 201  # a warm worker, as in production

    hostile = sparse_glb(2**31, generator="issue-19 sparse zip bomb 1.0")
    first = Upload(stack, vandal, hostile)
    first.start()
    until(lambda: busy_workers() == 1)
    second = Upload(stack, vandal, hostile)  # brand A's turn is taken: this one waits for it
    try:
        second.start()
        until(lambda: sum(gltf._turns._waiting.values()) == 1)
        third = upload(stack, vandal, build(Model(parts=[Part("Sock", 2, 0)])))  # A's queue (1 here) is full
        assert third.status_code == 429, third.text
        assert third.json()["type"].endswith("/too-many-requests") and third.headers["Retry-After"] == "9"

        started = time.monotonic()
        r = upload(stack, honest, build(Model(parts=[Part("Scarf", 48, 0)], materials=["Cashmere"])))
        elapsed = time.monotonic() - started
        assert r.status_code == 201, r.text
        assert r.json()["stats"]["triangles"] == 48
        assert elapsed < 5, elapsed
        assert first.is_alive()  # brand A's model was still holding its worker all along
        print(f"brand B's upload: 201 in {elapsed:.3f} s while brand A's models were being validated")
    finally:  # (an assertion above failing must not leave uploads running into the stack's shutdown)
        first.join(LIMIT + 5)
        second.join(2 * LIMIT + 5)
    assert first.response is not None and second.response is not None
    # The first is killed at the per-file limit (the worker replaced): 503, retry; the same bytes timing
    # out again are refused for good.
    assert first.response.status_code == 503 and first.response.headers["Retry-After"] == "5"
    assert "within 8 s" in first.response.json()["detail"]
    assert LIMIT - 0.5 < first.elapsed < LIMIT + 3, first.elapsed
    assert second.response.status_code == 422, second.response.text
    assert second.response.json()["type"].endswith("/model-too-complex")
    assert "twice" in second.response.json()["detail"]
    assert upload(stack, vandal, build()).status_code == 201  # brand A's turn is free again
