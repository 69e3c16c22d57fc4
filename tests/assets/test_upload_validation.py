"""POST /v1/assets runs the Khronos glTF Validator: a valid GLB's counts are answered and kept on its
asset row (and served by asset_stats), a GLB with validator errors is a 422 problem listing them."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from registry.assets.models import Asset
from registry.assets.service import asset_stats, validate_glb
from tests.api.conftest import Stack, fresh_stack, png
from tests.assets.builders import Model, Part, build, glb_container

COAT = Model(parts=[Part("Coat", 640, 0), Part("Lining", 60, 1)], materials=["Wool", "Silk"], textures=[(512, 512)])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str]]]:
    with fresh_stack(tmp_path_factory.mktemp("assets")) as stack:
        headers, _ = stack.new_brand("Maison Upload", "UPLD")
        yield stack, headers


def assets(stack: Stack) -> int:
    with Session(stack.runtime.engine) as s:
        return len(s.exec(select(Asset)).all())


def upload(stack: Stack, headers: dict[str, str], data: bytes) -> Any:
    return stack.client.post("/v1/assets", files={"file": ("m.glb", io.BytesIO(data))}, headers=headers)


def test_a_valid_glb_is_stored_with_its_counts(world: tuple[Stack, dict[str, str]]) -> None:
    """700 triangles in two meshes, 2 materials, one 512 px texture: the answer and the asset row
    carry the validator's counts, and asset_stats serves them by CID with the file's size."""
    stack, headers = world
    data = build(COAT)
    r = upload(stack, headers, data)
    assert r.status_code == 201, r.text
    body = r.json()
    stats = body["stats"]
    assert (stats["triangles"], stats["vertices"], stats["materials"], stats["textures"]) == (700, 2100, 2, 1)
    assert (stats["draw_calls"], stats["max_texture_size"]) == (2, 512)
    with Session(stack.runtime.engine) as s:
        [row] = s.exec(select(Asset).where(Asset.cid == body["cid"])).all()
        assert row.gltf_stats is not None and json.loads(row.gltf_stats)["triangles"] == 700
        served = asset_stats(s, [body["cid"], "bafkreiunknown"])
    assert set(served) == {body["cid"]}
    assert served[body["cid"]]["size"] == len(data) and served[body["cid"]]["meshes"][1]["triangles"] == 60


def test_images_have_no_stats(world: tuple[Stack, dict[str, str]]) -> None:
    stack, headers = world
    r = stack.client.post("/v1/assets", files={"file": ("p.png", io.BytesIO(png(77)))}, headers=headers)
    assert r.status_code == 201 and r.json()["stats"] is None
    with Session(stack.runtime.engine) as s:
        assert asset_stats(s, [r.json()["cid"]]) == {}


def test_a_glb_the_validator_rejects_is_a_422_listing_its_errors(world: tuple[Stack, dict[str, str]]) -> None:
    """A well-formed container whose accessor runs past its buffer view: 422 problem+json whose
    `issues` carry the validator's code, JSON pointer and message; nothing is stored."""
    stack, headers = world
    data = build(COAT)
    doc = validate_glb(data)
    doc["accessors"][0]["count"] = 5000
    bad = glb_container(doc, data[28 + struct.unpack_from("<I", data, 12)[0] :])
    before = assets(stack)
    r = upload(stack, headers, bad)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith("/invalid-input")
    issue = problem["issues"][0]
    assert (issue["code"], issue["pointer"]) == ("ACCESSOR_TOO_LONG", "/accessors/0")
    assert "does not fit referenced bufferView" in issue["message"]
    assert "Khronos glTF Validator found" in problem["detail"]
    assert assets(stack) == before


def test_a_model_uploaded_before_validation_gets_its_counts_on_the_next_upload(
    world: tuple[Stack, dict[str, str]],
) -> None:
    """A row without counts (as migration 0011 leaves older GLBs) is filled in when the same bytes
    are uploaded again: asset_stats knows nothing of it before, everything after."""
    stack, headers = world
    data = build(Model(parts=[Part("Scarf", 42, 0)]))
    cid = upload(stack, headers, data).json()["cid"]
    with Session(stack.runtime.engine) as s:
        [asset] = s.exec(select(Asset).where(Asset.cid == cid)).all()
        asset.gltf_stats = None
        s.add(asset)
        s.commit()
        assert asset_stats(s, [cid]) == {}
    assert upload(stack, headers, data).json()["stats"]["triangles"] == 42
    with Session(stack.runtime.engine) as s:
        assert asset_stats(s, [cid])[cid]["triangles"] == 42
