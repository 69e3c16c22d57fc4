"""Review 2 attacks on GLB uploads: malformed JSON that the validator reports and the counts code
used to trust (500s), JSON nested past Python's recursion limit, a validator worker that is busy,
one that a model crashes, and a large model through the long-lived worker."""

from __future__ import annotations

import io
import json
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from registry.assets import gltf
from registry.assets.service import validate_glb
from registry.errors import InvalidInput
from tests.api.conftest import Stack, fresh_stack
from tests.assets.builders import Model, Part, build, glb_container

COAT = Model(parts=[Part("Coat", 64, 0)], materials=["Wool"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str]]]:
    with fresh_stack(tmp_path_factory.mktemp("hostile-assets")) as stack:
        headers, _ = stack.new_brand("Maison Hostile", "HOST")
        yield stack, headers


def upload(stack: Stack, headers: dict[str, str], data: bytes) -> Any:
    return stack.client.post("/v1/assets", files={"file": ("m.glb", io.BytesIO(data))}, headers=headers)


def with_json(doc: dict[str, Any]) -> bytes:
    data = build(COAT)
    return glb_container(doc, data[28 + struct.unpack_from("<I", data, 12)[0] :])


def test_malformed_meshes_and_accessors_are_422_not_500(world: tuple[Stack, dict[str, str]]) -> None:
    stack, headers = world
    cases = {
        "primitives is a number": lambda d: d["meshes"][0].update(primitives=5),
        "attributes is a list": lambda d: d["meshes"][0]["primitives"][0].update(attributes=[0]),
        "count is a string": lambda d: d["accessors"][0].update(count="x"),
        "count is Infinity": lambda d: d["accessors"][0].update(count=float("inf")),
    }
    for name, spoil in cases.items():
        doc = validate_glb(build(COAT))
        spoil(doc)
        r = upload(stack, headers, with_json(doc))
        assert r.status_code == 422, (name, r.status_code, r.text[:300])
        assert r.headers["content-type"] == "application/problem+json", name
        assert r.json()["type"].endswith("/invalid-input"), name


def test_json_nested_past_the_recursion_limit_is_422(world: tuple[Stack, dict[str, str]]) -> None:
    stack, headers = world
    for opener in (b"[", b'{"a":'):
        chunk = opener * 200_000
        chunk += b" " * (-len(chunk) % 4)
        body = struct.pack("<II", len(chunk), 0x4E4F534A) + chunk
        data = b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body
        with pytest.raises(InvalidInput, match="nested deeper"):
            validate_glb(data)
        r = upload(stack, headers, data)
        assert r.status_code == 422, r.text[:300]


def test_a_large_valid_glb_validates_quickly() -> None:
    """~20 MiB through the long-lived worker: the request is read in one piece (before: a copy of
    everything buffered on every 64 KiB chunk)."""
    gltf.validate_with_khronos(build(COAT), validate_glb(build(COAT)))  # the worker is started
    data = build(Model(parts=[Part("Coat", 64, 0)], materials=["Wool"], padding=20 * 1024 * 1024))
    started = time.monotonic()
    inspection = gltf.validate_with_khronos(data, validate_glb(data))
    elapsed = time.monotonic() - started
    print(f"validated {len(data)} bytes in {elapsed:.3f} s")
    assert inspection.errors == [] and inspection.stats["triangles"] == 64
    assert elapsed < 5


def test_a_busy_validator_is_503_after_the_queue_wait() -> None:
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with gltf._worker._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        with pytest.raises(gltf.ValidatorUnavailable, match="busy"):
            gltf._worker.validate(build(COAT), 5, queue=0.3)
        assert time.monotonic() - started < 3
    finally:
        release.set()
        holder.join()
    assert gltf._worker.validate(build(COAT), 10)["issues"]["numErrors"] == 0


def test_a_model_that_crashes_the_validator_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON chunk of 300,000 nodes exhausts a 64 MiB V8 heap: Node dies, the worker is replaced and
    tried once more, dies again, and the model is refused (422), not a "retry later" 503."""
    doc = {"asset": {"version": "2.0"}, "nodes": [{"name": f"n{i}"} for i in range(300_000)]}
    data = glb_container(doc, b"")
    gltf._worker.stop()
    monkeypatch.setattr(gltf, "HEAP_MB", 64)
    try:
        with pytest.raises(InvalidInput, match="could not be validated"):
            gltf._worker.validate(data, 20)
    finally:
        gltf._worker.stop()
        monkeypatch.setattr(gltf, "HEAP_MB", 512)
    assert gltf._worker.validate(build(COAT), 10)["issues"]["numErrors"] == 0
    assert json.loads(json.dumps(gltf.HEAP_MB)) == 512
