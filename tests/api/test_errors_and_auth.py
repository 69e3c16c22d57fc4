"""Bad input gets a clear problem+json answer with a stable type, and nothing is half-written."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlmodel import Session, func, select

from registry.jobs.models import Job
from tests.api.conftest import Stack, glb, physical, png

PROBLEM = "application/problem+json"


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["type"] == f"https://twinmark.dev/problems/{code}"
    assert body["status"] == status and body["detail"]
    return dict(body)


def job_count(stack: Stack) -> int:
    with Session(stack.runtime.engine) as s:
        return int(s.exec(select(func.count()).select_from(Job)).one())


@pytest.fixture(scope="module")
def brands(stack: Stack) -> dict[str, Any]:
    a, col_a = stack.new_brand("Errors A", "ERRA")
    b, col_b = stack.new_brand("Errors B", "ERRB")
    return {
        "a": a,
        "b": b,
        "col_a": col_a,
        "col_b": col_b,
        "image_a": stack.upload(a, png(10)),
        "image_b": stack.upload(b, png(11)),
    }


def test_brand_registration_needs_the_operator_token(stack: Stack) -> None:
    problem(stack.client.post("/v1/brands", json={"name": "X", "symbol": "XX"}), 401, "unauthenticated")
    r = stack.client.post("/v1/brands", json={"name": "X", "symbol": "XX"}, headers={"Authorization": "Bearer nope"})
    assert problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


def test_brand_registration_refusals(stack: Stack, brands: dict[str, Any]) -> None:
    op = stack.operator
    problem(stack.client.post("/v1/brands", json={"name": "Errors A", "symbol": "ERRC"}, headers=op), 409, "conflict")
    problem(
        stack.client.post("/v1/brands", json={"name": "Y", "symbol": "bad symbol"}, headers=op), 422, "invalid-input"
    )
    body = problem(
        stack.client.post("/v1/brands", json={"name": "Y", "symbol": "YY", "colour": "red"}, headers=op),
        422,
        "invalid-input",
    )
    assert "colour" in body["detail"]


def test_api_keys_are_checked_and_scoped(stack: Stack, brands: dict[str, Any]) -> None:
    problem(stack.client.get("/v1/brands/me"), 401, "unauthenticated")
    problem(
        stack.client.get("/v1/brands/me", headers={"Authorization": "Bearer tmk_000000000000_" + "x" * 43}),
        401,
        "unauthenticated",
    )
    tampered = brands["a"]["Authorization"][:-2] + ("AA" if not brands["a"]["Authorization"].endswith("AA") else "BB")
    problem(stack.client.get("/v1/brands/me", headers={"Authorization": tampered}), 401, "unauthenticated")
    me = stack.client.get("/v1/brands/me", headers=brands["a"]).json()
    assert me["name"] == "Errors A" and me["collections"][0]["address"] == brands["col_a"]


def test_invalid_gtin_is_refused_whole(stack: Stack, brands: dict[str, Any]) -> None:
    before = job_count(stack)
    twin = physical("SN-BAD") | {"gtin": "4006381333932"}
    body = problem(stack.client.post("/v1/twins", json=twin, headers=brands["a"]), 422, "invalid-input")
    assert "check digit" in body["detail"]
    batch = {"twins": [physical("SN-OK-1"), physical("SN-OK-2") | {"gtin": "123"}]}
    body = problem(stack.client.post("/v1/batches", json=batch, headers=brands["a"]), 422, "invalid-input")
    assert body["detail"].startswith("twins.1")
    assert job_count(stack) == before  # nothing half-written: not even the valid first twin


def test_unknown_fields_and_malformed_bodies(stack: Stack, brands: dict[str, Any]) -> None:
    body = problem(
        stack.client.post("/v1/twins", json=physical("SN-U") | {"colour": "red"}, headers=brands["a"]),
        422,
        "invalid-input",
    )
    assert "colour" in body["detail"]
    problem(
        stack.client.post(
            "/v1/batches", content=b"{not json", headers=brands["a"] | {"content-type": "application/json"}
        ),
        422,
        "invalid-input",
    )
    problem(stack.client.post("/v1/batches", json={"twins": []}, headers=brands["a"]), 422, "invalid-input")
    problem(stack.client.post("/v1/twins", json={"kind": "spaceship"}, headers=brands["a"]), 422, "invalid-input")


def test_another_brands_resources_are_out_of_reach(stack: Stack, brands: dict[str, Any]) -> None:
    # B's image in A's twin
    body = problem(
        stack.client.post("/v1/twins", json=physical("SN-X1", image=brands["image_b"]), headers=brands["a"]),
        422,
        "invalid-input",
    )
    assert "not uploaded by this brand" in body["detail"]
    # B's collection named in A's twin
    twin = physical("SN-X2") | {"collection": brands["col_b"]}
    problem(stack.client.post("/v1/twins", json=twin, headers=brands["a"]), 404, "not-found")
    # B cannot read A's job
    job = stack.client.post("/v1/twins", json=physical("SN-X3"), headers=brands["a"]).json()
    problem(stack.client.get(f"/v1/jobs/{job['id']}", headers=brands["b"]), 404, "not-found")
    assert stack.wait_job(brands["a"], job["id"])["state"] == "completed"


def test_asset_uploads_are_validated(stack: Stack, brands: dict[str, Any]) -> None:
    a = brands["a"]

    def upload(data: bytes) -> Any:
        return stack.client.post("/v1/assets", files={"file": ("f", io.BytesIO(data))}, headers=a)

    ok = upload(glb()).json()
    assert ok["media_type"] == "model/gltf-binary" and ok["cid"].startswith("bafk")
    assert upload(png(12)).json()["media_type"] == "image/png"
    problem(upload(b"GIF89a....."), 422, "invalid-input")
    problem(upload(b""), 422, "invalid-input")
    problem(upload(png(1) + b"\x00" * 200_000), 413, "payload-too-large")
    # A declared length far over the limit is refused before the body is read.
    huge = stack.client.post(
        "/v1/assets",
        content=b"x",
        headers=a | {"content-length": str(10**9), "content-type": "multipart/form-data; boundary=x"},
    )
    problem(huge, 413, "payload-too-large")
    truncated = glb()[:-4]
    assert "declares" in problem(upload(truncated), 422, "invalid-input")["detail"]
    bad_json = glb()
    bad_json = bad_json[:20] + b"X" + bad_json[21:]  # first byte of the JSON chunk
    problem(upload(bad_json), 422, "invalid-input")
    assert "asset.version" in problem(upload(glb({"asset": {"version": "1.0"}})), 422, "invalid-input")["detail"]
    problem(upload(glb({"buffers": [{"byteLength": 999}]})), 422, "invalid-input")
    problem(stack.client.post("/v1/assets", files={"file": ("f", io.BytesIO(png(1)))}), 401, "unauthenticated")


def test_a_virtual_twin_needs_a_glb_model(stack: Stack, brands: dict[str, Any]) -> None:
    body = {
        "kind": "virtual",
        "name": "Not a model",
        "representations": [{"body_shapes": ["BaseMale"], "model": brands["image_a"]}],
        "preview_image": brands["image_a"],
    }
    assert (
        "expected one of model/gltf-binary"
        in problem(stack.client.post("/v1/twins", json=body, headers=brands["a"]), 422, "invalid-input")["detail"]
    )


def test_unknown_routes_and_ids(stack: Stack, brands: dict[str, Any]) -> None:
    problem(stack.client.get("/v1/nothing-here"), 404, "not-found")
    problem(stack.client.get(f"/v1/twins/{brands['col_a']}/999999"), 404, "not-found")
    problem(stack.client.get("/v1/twins/not-an-address/1"), 422, "invalid-input")
    problem(stack.client.get("/v1/twins", params={"gtin": "12"}), 422, "invalid-input")
    problem(stack.client.get("/v1/verify/0x1234/1"), 422, "invalid-input")
    problem(stack.client.get("/v1/jobs/unknown", headers=brands["a"]), 404, "not-found")


def test_health_and_docs(stack: Stack) -> None:
    assert stack.client.get("/healthz").json() == {"status": "ok"}
    ready = stack.client.get("/readyz").json()
    assert ready["status"] == "ready" and set(ready["checks"]) == {"chain", "ipfs", "database"}
    assert stack.client.get("/docs").status_code == 200
    paths = stack.client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/brands",
        "/v1/assets",
        "/v1/twins",
        "/v1/batches",
        "/v1/jobs/{job_id}",
        "/v1/verify/{contract}/{token_id}",
    ):
        assert path in paths
