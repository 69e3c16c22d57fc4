"""Issue 19 attacks on the glTF Validator: models whose accessors declare work out of proportion to
their bytes (a 596-byte sparse accessor of 2^31 vertices, one of 1.5e8 that the validator passed as
a 50M-triangle model, zero-filled and aliased accessors) are refused before the validator runs, and
nothing above the game-ready ceilings is stored."""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from registry.assets import gltf, service
from registry.assets.budget import ModelLimits
from registry.assets.models import Asset
from registry.assets.service import inspect_glb, validate_glb
from registry.errors import InvalidInput
from registry.settings import Settings
from tests.api.conftest import Stack, fresh_stack
from tests.assets.builders import Model, Part, build, glb_container, sparse_glb, with_blend_shapes

ATTACK = "issue-19 sparse zip bomb 1.0"  # (the generator name that makes the file 596 bytes)
COAT = Model(parts=[Part("Coat", 640, 0), Part("Lining", 60, 1)], materials=["Wool", "Silk"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str], dict[str, str]]]:
    with fresh_stack(tmp_path_factory.mktemp("declared-work")) as stack:
        vandal, _ = stack.new_brand("Maison Vandal", "VNDL")
        honest, _ = stack.new_brand("Maison Honest", "HNST")
        yield stack, vandal, honest


@pytest.fixture
def validator_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the files that reached the validator pool during the test (the real pool still runs)."""
    calls: list[int] = []
    real = gltf._pool.validate

    def counted(data: bytes, timeout: float, *, size: int, queue: float) -> dict[str, Any]:
        calls.append(len(data))
        return real(data, timeout, size=size, queue=queue)

    monkeypatch.setattr(gltf._pool, "validate", counted)
    return calls


def upload(stack: Stack, headers: dict[str, str], data: bytes) -> Any:
    return stack.client.post("/v1/assets", files={"file": ("m.glb", io.BytesIO(data))}, headers=headers)


def stored(stack: Stack) -> int:
    with Session(stack.runtime.engine) as s:
        return len(s.exec(select(Asset)).all())


def codes(problem: dict[str, Any]) -> set[str]:
    return {i["code"] for i in problem["issues"]}


def test_the_596_byte_sparse_attack_is_refused_before_the_validator(
    world: tuple[Stack, dict[str, str], dict[str, str]], validator_calls: list[int]
) -> None:
    """The issue's file: 596 bytes, one sparse POSITION accessor of 2^31 elements (it held the one
    validator for 20 s, then 503). Now a 422 `model-too-complex` in well under a second, the validator
    never asked; the next brand's valid model does reach it."""
    stack, vandal, honest = world
    data = sparse_glb(2**31, generator=ATTACK)
    assert len(data) == 596
    before = stored(stack)
    started = time.monotonic()
    r = upload(stack, vandal, data)
    elapsed = time.monotonic() - started
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith("/model-too-complex")
    assert {"DECLARED_WORK_TOO_LARGE", "TOO_MANY_TRIANGLES", "TOO_MANY_VERTICES"} <= codes(problem)
    assert "6,442,450,948 components" in problem["detail"]  # 2^31 x 3, plus the one entry's index and value
    assert elapsed < 5, elapsed  # the validator would take minutes over 2^31 components (loaded CI: 1.2 s)
    assert validator_calls == [] and stored(stack) == before
    assert upload(stack, honest, build(COAT)).status_code == 201
    assert len(validator_calls) == 1


def test_a_150_million_vertex_model_is_not_stored_as_game_ready(
    world: tuple[Stack, dict[str, str], dict[str, str]], validator_calls: list[int]
) -> None:
    """A count near 1.5e8 finished inside the old 20 s and was stored as a 50M-triangle model; now it
    is refused by its declared work and the ceilings, and no stats exist for it."""
    stack, vandal, _ = world
    data = sparse_glb(150_000_000, generator=ATTACK)
    r = upload(stack, vandal, data)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"].endswith("/model-too-complex")
    triangles = next(i for i in problem["issues"] if i["code"] == "TOO_MANY_TRIANGLES")
    assert triangles["message"].startswith("50,000,000 triangles; a game-ready model has at most 500,000")
    assert validator_calls == []
    with Session(stack.runtime.engine) as s:
        assert s.exec(select(Asset).where(Asset.size == len(data))).all() == []


def test_a_zero_filled_accessor_that_the_validator_passes_is_refused(
    world: tuple[Stack, dict[str, str], dict[str, str]],
) -> None:
    """Without sparse and without a bufferView an accessor is all zeros: the validator passes 2^31 of
    them in a millisecond and counts 715,827,882 triangles. The declared work refuses it."""
    stack, vandal, _ = world
    doc = validate_glb(sparse_glb(2**31))
    del doc["accessors"][0]["sparse"]
    del doc["bufferViews"], doc["buffers"]
    data = glb_container(doc, b"")
    report = gltf._pool.validate(data, 5, size=1, queue=5)
    assert report["issues"]["numErrors"] == 0 and report["info"]["totalTriangleCount"] == 715_827_882
    r = upload(stack, vandal, data)
    assert r.status_code == 422 and r.json()["type"].endswith("/model-too-complex"), r.text


def test_accessors_aliasing_one_view_are_refused(world: tuple[Stack, dict[str, str], dict[str, str]]) -> None:
    """600 accessors over the same 120 KB of positions: each is valid, together they ask the validator
    to read 18M components (seconds of work) from a ~190 KB file."""
    stack, vandal, _ = world
    data = build(Model(parts=[Part("Coat", 3_334, 0)]))
    doc = validate_glb(data)
    doc["accessors"] += [dict(doc["accessors"][0]) for _ in range(599)]
    aliased = glb_container(doc, data[28 + struct.unpack_from("<I", data, 12)[0] :])
    r = upload(stack, vandal, aliased)
    assert r.status_code == 422, r.text
    assert codes(r.json()) == {"DECLARED_WORK_TOO_LARGE"}
    assert upload(stack, vandal, data).status_code == 201  # one accessor over those bytes is fine


def test_sparse_parts_are_bounded_by_their_accessor_and_their_bytes() -> None:
    """More sparse entries than elements, and entries whose indices and values the file does not hold
    (4 and 12 bytes for 1,000 of them), are named by pointer; so is a view past its buffer."""
    with pytest.raises(InvalidInput) as refused:
        inspect_glb(sparse_glb(10, sparse_count=11))
    assert refused.value.code == "model-too-complex"
    assert [(i["code"], i["pointer"]) for i in refused.value.extra["issues"]] == [
        ("SPARSE_COUNT_TOO_LARGE", "/accessors/0/sparse/count")
    ]
    with pytest.raises(InvalidInput) as refused:
        inspect_glb(sparse_glb(5_000, sparse_count=1_000))
    issues = refused.value.extra["issues"]
    assert [(i["code"], i["pointer"]) for i in issues] == [
        ("SPARSE_DATA_TOO_SHORT", "/accessors/0/sparse/indices"),
        ("SPARSE_DATA_TOO_SHORT", "/accessors/0/sparse/values"),
    ]
    assert issues[1]["message"] == "1,000 sparse values need 12,000 bytes; the file holds 12"
    doc = validate_glb(sparse_glb(3))
    doc["bufferViews"][1]["byteLength"] = 4_000
    with pytest.raises(InvalidInput) as refused:
        inspect_glb(glb_container(doc, struct.pack("<I3f", 0, 1.0, 1.0, 1.0)))
    assert ("VIEW_BEYOND_BUFFER", "/bufferViews/1") in {
        (i["code"], i["pointer"]) for i in refused.value.extra["issues"]
    }


def test_a_small_sparse_model_still_validates() -> None:
    """Sparse accessors are legitimate (morph targets): three zero-filled vertices, one set sparsely,
    pass the pre-check and the validator."""
    stats = inspect_glb(sparse_glb(3))
    assert (stats["triangles"], stats["vertices"]) == (1, 3)


def test_a_face_rig_of_sparse_blend_shapes_validates() -> None:
    """Zero-filled sparse accessors are how exporters write blend shapes: 52 of them (ARKit's set), each
    moving 200 of 30,000 vertices, declare 4.8M components in about 0.5 MB, and pass."""
    data = with_blend_shapes(build(Model(parts=[Part("Head", 10_000, 0)])), shapes=52, entries=200)
    assert len(data) < 600_000
    stats = inspect_glb(data)
    assert (stats["triangles"], stats["vertices"], stats["warnings"]) == (10_000, 30_000, 0)


def test_the_ceilings_are_the_settings_and_the_validators_counts_are_held_to_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """700 triangles pass a 700-triangle ceiling and fail a 699 one. Should the pre-check ever miss, the
    validator's own totals are held to the same ceilings: nothing above them is stored as game-ready."""
    data = build(COAT)
    assert inspect_glb(data, limits=ModelLimits(max_triangles=700))["triangles"] == 700
    with pytest.raises(InvalidInput) as refused:
        inspect_glb(data, limits=ModelLimits(max_triangles=699))
    assert [i["code"] for i in refused.value.extra["issues"]] == ["TOO_MANY_TRIANGLES"]
    with pytest.raises(InvalidInput, match="2,100 vertices"):
        inspect_glb(data, limits=ModelLimits(max_vertices=2_000))
    monkeypatch.setattr(service, "check_declared_work", lambda *_: None)
    doc = validate_glb(sparse_glb(2**31))
    del doc["accessors"][0]["sparse"]
    del doc["bufferViews"], doc["buffers"]
    with pytest.raises(InvalidInput, match="715,827,882 triangles") as refused:
        inspect_glb(glb_container(doc, b""))
    assert refused.value.code == "model-too-complex"


def test_model_limits_default_to_the_settings_defaults(tmp_path: Any) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert ModelLimits.of(settings) == ModelLimits()


@pytest.mark.parametrize("spelled", ["1.5e8", "150000000.0", "3e7"])
def test_counts_written_as_floats_are_weighed_as_the_validator_reads_them(
    spelled: str, validator_calls: list[int]
) -> None:
    """The validator runs in JavaScript, where `1.5e8` and `150000000.0` are integers: it read such a
    sparse accessor as 150M vertices (37 s here, 0 errors, 50M triangles). Python's json reads them as
    floats, which the pre-check counted as nothing, so the 584-byte file reached the validator and held
    a worker until the per-file limit killed it. Integral floats are weighed as the integers they are."""
    data = sparse_glb(1)
    json_length = struct.unpack_from("<I", data, 12)[0]
    text = data[20 : 20 + json_length].rstrip(b" ").replace(b'"count":1,"type"', f'"count":{spelled},"type"'.encode())
    text = text.replace(b'"sparse":{"count":1,', b'"sparse":{"count":1.0,')
    assert spelled.encode() in text and b"1.0," in text
    text += b" " * (-len(text) % 4)
    blob = data[28 + json_length :]
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(blob), 0x004E4942) + blob
    hostile = b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body
    try:
        inspect_glb(hostile, limits=ModelLimits(validator_timeout=1))
    except InvalidInput as exc:
        refused = exc
    assert refused.code == "model-too-complex", refused
    found = {i["code"] for i in refused.extra["issues"]}
    assert {"DECLARED_WORK_TOO_LARGE", "TOO_MANY_VERTICES", "TOO_MANY_TRIANGLES"} <= found, found
    assert validator_calls == []
