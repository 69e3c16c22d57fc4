"""QR routes (public) and a job's label ZIP (its brand only), on a real stack over real HTTP."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import segno

from api.main import create_app
from tests.api.conftest import Stack, fresh_stack, glb, gtin, physical, png
from tests.labels.qrread import png_matrix, png_pixels, svg_matrix
from tests.support.server import serve

BASE = "https://id.twinmark.test"
CODE = "871234567890"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with fresh_stack(tmp_path_factory.mktemp("labels"), public_url=BASE) as stack:
        headers, collection = stack.new_brand("Maison Label", "LABL")
        rival, _ = stack.new_brand("Rival House", "RIVL")
        twins = [
            physical("LB-1", code=CODE) | {"lot": "L-1"},
            physical("-2/x:y", code=CODE),  # a formula-looking serial with characters unsafe in file names
            physical("LB-3", code=CODE),
        ]
        job = stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()
        minted = stack.wait_job(headers, job["id"])["twins"]
        model, preview = stack.upload(headers, glb(), "m.glb"), stack.upload(headers, png(9))
        virtual = {
            "kind": "virtual",
            "name": "Digital jacket",
            "representations": [{"body_shapes": ["BaseMale"], "model": model}],
            "preview_image": preview,
        }
        vjob = stack.client.post("/v1/twins", json=virtual, headers=headers).json()
        vtwin = stack.wait_job(headers, vjob["id"])["twins"][0]
        with serve(create_app(runtime=stack.runtime)) as url, httpx.Client(base_url=url, timeout=60) as http:
            yield {
                "stack": stack,
                "http": http,
                "headers": headers,
                "rival": rival,
                "collection": collection,
                "job": job["id"],
                "vjob": vjob["id"],
                "vtwin": vtwin,
                "twins": minted,
            }


def symbol(text: str) -> tuple[int, list[list[bool]]]:
    want = segno.make_qr(text, error="q", boost_error=False)
    return want.symbol_size(scale=1, border=0)[0], [[bool(v) for v in row] for row in want.matrix]


def external_url(world: dict[str, Any], token_id: int) -> str:
    twin = world["stack"].client.get(f"/v1/twins/{world['collection']}/{token_id}").json()
    return str(twin["metadata"]["external_url"])


def test_a_twins_qr_codes_encode_its_digital_link(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    for twin in world["twins"]:
        link = external_url(world, twin["token_id"])
        modules, matrix = symbol(link)
        r = http.get(f"/v1/twins/{world['collection']}/{twin['token_id']}/qr.png")  # public: no key
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert png_matrix(r.content, modules) == matrix
        r = http.get(f"/v1/twins/{world['collection']}/{twin['token_id']}/qr.svg")
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert svg_matrix(r.content, modules)[0] == matrix
    # The encoded link is the resolver's: scanning it lands on the twin's page.
    first = world["twins"][0]["token_id"]
    landed = http.get(external_url(world, first).removeprefix(BASE))
    assert landed.headers["location"] == f"{BASE}/t/{world['collection']}/{first}"


def test_the_size_is_bounded(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    path = f"/v1/twins/{world['collection']}/{world['twins'][0]['token_id']}/qr.png"
    width, _, _ = png_pixels(http.get(path, params={"size": 300}).content)
    assert 300 - 60 < width <= 300
    for bad in (10, 5000, "big"):
        r = http.get(path, params={"size": bad})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_unknown_and_virtual_twins_have_no_qr(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    assert http.get(f"/v1/twins/{world['collection']}/999999/qr.svg").status_code == 404
    v = world["vtwin"]
    r = http.get(f"/v1/twins/{v['contract']}/{v['token_id']}/qr.png")
    assert r.status_code == 404 and "no GS1 Digital Link" in r.json()["detail"]


def test_the_brand_gets_its_jobs_labels_as_one_streamed_zip(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    r = http.get(f"/v1/jobs/{world['job']}/labels.zip", headers=world["headers"], params={"size": 256})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "content-length" not in r.headers and r.headers["transfer-encoding"] == "chunked"  # streamed
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.testzip() is None
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert list(rows[0]) == ["contract", "token_id", "gtin", "serial", "lot", "link", "svg", "png"]
    assert len(rows) == 3 and len(archive.namelist()) == 1 + 2 * 3
    by_token = {t["token_id"]: t for t in world["twins"]}
    for row in rows:
        token = int(row["token_id"])
        link = external_url(world, token)
        assert (row["contract"], row["link"]) == (world["collection"], link)
        assert row["gtin"] == gtin(CODE).zfill(14) and token in by_token
        modules, matrix = symbol(link)
        assert png_matrix(archive.read(row["png"]), modules) == matrix
        assert svg_matrix(archive.read(row["svg"]), modules)[0] == matrix
        assert png_pixels(archive.read(row["png"]))[0] <= 256
    odd = next(row for row in rows if "x:y" in row["serial"])
    assert odd["serial"] == "'-2/x:y"  # a spreadsheet would run "-2/..." as a formula
    assert odd["svg"] == f"{odd['gtin']}_-2%2Fx%3Ay.svg" and "/" not in odd["png"]
    assert next(row for row in rows if row["serial"] == "LB-1")["lot"] == "L-1"


def test_another_brand_cannot_download_the_labels(world: dict[str, Any]) -> None:
    """The attack: a rival brand's valid key asks for this brand's job labels."""
    http: httpx.Client = world["http"]
    r = http.get(f"/v1/jobs/{world['job']}/labels.zip", headers=world["rival"])
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert b"PK" not in r.content[:2]
    assert http.get(f"/v1/jobs/{world['job']}/labels.zip").status_code == 401
    assert http.get("/v1/jobs/no-such-job/labels.zip", headers=world["headers"]).status_code == 404


def test_a_job_without_physical_twins_has_no_labels(world: dict[str, Any]) -> None:
    r = world["http"].get(f"/v1/jobs/{world['vjob']}/labels.zip", headers=world["headers"])
    assert r.status_code == 409 and "no minted physical twin" in r.json()["detail"]


def test_a_label_export_is_bounded(world: dict[str, Any]) -> None:
    """One brand's export cannot take minutes of CPU: PNGs of at most 1,024 px in a ZIP, and one export
    at a time per brand (a second one while the first streams is a 429)."""
    http: httpx.Client = world["http"]
    stack: Stack = world["stack"]
    big = http.get(f"/v1/jobs/{world['job']}/labels.zip", headers=world["headers"], params={"size": 4096})
    assert big.status_code == 422 and big.headers["content-type"] == "application/problem+json"
    many = [physical(f"BULK-{i}", code=CODE) for i in range(150)]  # long enough to still be streaming
    job = stack.wait_job(
        world["headers"], http.post("/v1/batches", json={"twins": many}, headers=world["headers"]).json()["id"]
    )
    url = f"/v1/jobs/{job['id']}/labels.zip"
    with http.stream("GET", url, headers=world["headers"], params={"size": 1024}) as first:
        assert first.status_code == 200
        chunks = first.iter_bytes()
        next(chunks)  # the first export is under way
        second = http.get(url, headers=world["headers"], params={"size": 1024})
        assert second.status_code == 429 and second.json()["type"].endswith("/too-many-requests")
        other_job = http.get(f"/v1/jobs/{world['job']}/labels.zip", headers=world["headers"], params={"size": 64})
        assert other_job.status_code == 429  # the same brand, another job: still one at a time
        for _ in chunks:  # ... and ends
            pass
    again = http.get(f"/v1/jobs/{world['job']}/labels.zip", headers=world["headers"], params={"size": 64})
    assert again.status_code == 200  # the slot is free again
