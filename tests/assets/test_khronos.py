"""GLBs through the Khronos glTF Validator: real models pass with their counts, the validator's errors
refuse a model by code, JSON pointer and message, and the long-lived worker survives a crash and a timeout."""

from __future__ import annotations

import struct
import time

import pytest

from registry.assets import gltf
from registry.assets.service import inspect_glb, validate_glb
from registry.errors import InvalidInput
from tests.api.conftest import glb
from tests.assets.builders import Model, Part, build, glb_container


def rebuilt(data: bytes, change: object) -> bytes:
    """The GLB with its JSON chunk edited by `change(doc)` and the same BIN chunk."""
    doc = validate_glb(data)
    change(doc)  # type: ignore[operator]
    json_end = 20 + struct.unpack_from("<I", data, 12)[0]
    return glb_container(doc, data[json_end + 8 :])


def test_a_real_mesh_passes_with_its_counts() -> None:
    """Two meshes (300 + 20 triangles), two materials, a 512 px and a 256 px texture: every count the
    validator reports is kept, and the images' sizes come from the PNGs themselves."""
    model = Model(
        parts=[Part("Coat", 300, 0), Part("Buttons", 20, 1)],
        materials=["Wool", "Horn"],
        textures=[(512, 512), (256, 256)],
    )
    stats = inspect_glb(build(model))
    assert stats["triangles"] == 320
    assert stats["vertices"] == 960  # 3 per triangle: no index buffer
    assert stats["materials"] == 2 and stats["material_names"] == ["Wool", "Horn"]
    assert stats["textures"] == 2 and stats["texture_sizes"] == [[512, 512], [256, 256]]
    assert stats["max_texture_size"] == 512
    assert stats["draw_calls"] == 2
    assert stats["meshes"] == [
        {"name": "Coat", "nodes": ["Coat"], "triangles": 300},
        {"name": "Buttons", "nodes": ["Buttons"], "triangles": 20},
    ]
    assert stats["validator"].startswith("2.0.0")


def test_the_minimal_test_glb_still_passes() -> None:
    """The `glb()` helper other tests upload (a JSON chunk and an unused 8-byte buffer) is valid glTF:
    infos only, no errors, and nothing to draw."""
    stats = inspect_glb(glb())
    assert stats["triangles"] == stats["draw_calls"] == stats["materials"] == 0
    assert stats["max_texture_size"] is None


def test_an_accessor_out_of_bounds_is_refused_with_the_validators_message() -> None:
    """The container is well formed, but accessor 0 claims 1,000 vertices in a 360-byte view: the
    validator's ACCESSOR_TOO_LONG refuses it, naming the accessor by JSON pointer."""
    data = build(Model(parts=[Part("Coat", 10, 0)]))

    def too_long(doc: dict[str, object]) -> None:
        doc["accessors"][0]["count"] = 1000  # type: ignore[index]

    with pytest.raises(InvalidInput) as refused:
        inspect_glb(rebuilt(data, too_long))
    issues = refused.value.extra["issues"]
    assert {"code": "ACCESSOR_TOO_LONG", "pointer": "/accessors/0"}.items() <= issues[0].items()
    assert "does not fit referenced bufferView" in issues[0]["message"]
    assert "ACCESSOR_TOO_LONG at /accessors/0" in refused.value.detail


def test_every_error_is_listed() -> None:
    """A material index that does not exist and a node pointing at a missing mesh: both errors, each
    with its own pointer."""
    data = build(Model(parts=[Part("Coat", 10, 0)]))

    def broken(doc: dict[str, object]) -> None:
        doc["meshes"][0]["primitives"][0]["material"] = 7  # type: ignore[index]
        doc["nodes"][0]["mesh"] = 3  # type: ignore[index]

    with pytest.raises(InvalidInput) as refused:
        inspect_glb(rebuilt(data, broken))
    pointers = {i["pointer"] for i in refused.value.extra["issues"]}
    assert {"/meshes/0/primitives/0/material", "/nodes/0/mesh"} <= pointers
    assert all(i["code"] == "UNRESOLVED_REFERENCE" for i in refused.value.extra["issues"])


def test_warnings_do_not_refuse() -> None:
    """An unexpected top-level property is a warning: the model is accepted and the warning counted."""
    stats = inspect_glb(glb({"seed": 3}))
    assert stats["warnings"] == 1


def test_the_worker_is_replaced_after_a_crash_and_after_a_timeout() -> None:
    """Killing the Node worker, or a validation that exceeds its time limit (503, never a wrong answer
    to the next request), leaves the next upload validated by a fresh worker."""
    data = build(Model(parts=[Part("Coat", 10, 0)]))
    inspect_glb(data)
    proc = gltf._worker._proc
    assert proc is not None and proc.poll() is None
    proc.kill()  # not reaped: the next request may find it alive, write into a dead pipe and retry
    assert inspect_glb(data)["triangles"] == 10
    assert gltf._worker._proc is not proc
    big = build(Model(parts=[Part("Coat", 30_000, 0)]))
    with pytest.raises(gltf.ValidatorUnavailable, match="did not answer"):
        gltf.validate_with_khronos(big, validate_glb(big), timeout=0.0005)
    assert gltf._worker._proc is None  # dropped: a late answer can never be read as the next one's
    assert inspect_glb(data)["triangles"] == 10


def test_no_node_is_a_503_not_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a runnable validator the upload is not the client's fault: ValidatorUnavailable (503),
    and validation resumes once Node is back."""
    data = build(Model(parts=[Part("Coat", 10, 0)]))
    gltf._worker.stop()
    monkeypatch.setenv("TWINMARK_NODE", "/nonexistent/node")
    with pytest.raises(gltf.ValidatorUnavailable, match="cannot start") as away:
        inspect_glb(data)
    assert away.value.status == 503
    monkeypatch.delenv("TWINMARK_NODE")
    assert inspect_glb(data)["triangles"] == 10


def test_validation_stays_cheap_once_the_worker_runs() -> None:
    """The reason for a long-lived worker: after the first call, a garment-sized model validates in
    milliseconds, not the 100-250 ms a fresh Node would cost per upload."""
    data = build(Model(parts=[Part("Coat", 1500, 0)], textures=[(512, 512)]))
    inspect_glb(data)
    started = time.perf_counter()
    for _ in range(10):
        inspect_glb(data)
    assert (time.perf_counter() - started) / 10 < 0.1
