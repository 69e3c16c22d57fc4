"""The public content gateway: files by CID and path, byte ranges, raw blocks and CARs, all verified."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from registry.gateway.service import media_type
from registry.ipfs import car
from registry.ipfs.cid import CID
from registry.ipfs.store import LocalBlockStore, cat
from registry.ipfs.unixfs import decode_node
from tests.api.conftest import Stack, fresh_stack, glb, physical, png
from tests.support.blocks import raw_block

BIG = os.urandom(700_000)  # three 256 KiB chunks: a DAG, not one block


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, Any]]]:
    with fresh_stack(tmp_path_factory.mktemp("gateway")) as stack:
        headers, collection = stack.new_brand("Gateway House", "GATE")
        image = stack.upload(headers, png(5))
        model = stack.upload(headers, glb(bin_chunk=BIG))
        body = {"twins": [physical(f"G-{i}", image=image, code="761234567894") for i in range(2)]}
        job = stack.wait_job(headers, stack.client.post("/v1/batches", json=body, headers=headers).json()["id"])
        yield (
            stack,
            {
                "image": image,
                "model": model,
                "directory": job["batches"][0]["directory_cid"],
                "token": job["twins"][0]["token_id"],
                "collection": collection,
            },
        )


def test_a_file_by_cid_is_served_immutable_with_its_media_type(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    r = stack.client.get(f"/ipfs/{c['image']}")
    assert r.status_code == 200 and r.content == png(5)
    assert r.headers["content-type"] == "image/png"
    assert r.headers["etag"] == f'"{c["image"]}"'
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["x-content-type-options"] == "nosniff"
    again = stack.client.get(f"/ipfs/{c['image']}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_a_path_under_a_directory_resolves_to_the_twins_metadata(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    r = stack.client.get(f"/ipfs/{c['directory']}/{c['token']}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json()["twinmark"]["passport"]["serial"] == "G-0"
    assert r.headers["x-ipfs-path"] == f"/ipfs/{c['directory']}/{c['token']}"
    file_cid = r.headers["etag"].strip('"')
    assert CID.parse(file_cid).verify(r.content) or cat(stack.runtime.store, CID.parse(file_cid)) == r.content
    listing = stack.client.get(f"/ipfs/{c['directory']}").json()["entries"]
    assert str(c["token"]) in {e["name"] for e in listing}


def test_byte_ranges_of_a_large_model(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    whole = stack.client.get(f"/ipfs/{c['model']}")
    assert whole.headers["content-type"] == "model/gltf-binary" and whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    part = stack.client.get(f"/ipfs/{c['model']}", headers={"Range": "bytes=262100-262200"})
    assert part.status_code == 206 and part.content == whole.content[262100:262201]  # across a chunk boundary
    assert part.headers["content-range"] == f"bytes 262100-262200/{size}"
    tail = stack.client.get(f"/ipfs/{c['model']}", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    open_ended = stack.client.get(f"/ipfs/{c['model']}", headers={"Range": f"bytes={size - 3}-"})
    assert open_ended.content == whole.content[-3:]
    beyond = stack.client.get(f"/ipfs/{c['model']}", headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.headers["content-type"] == "application/problem+json"
    several = stack.client.get(f"/ipfs/{c['model']}", headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == whole.content


def test_raw_blocks_hash_to_their_cids(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    root = CID.parse(c["model"])
    r = stack.client.get(f"/ipfs/{c['model']}?format=raw")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.ipld.raw"
    assert r.headers["etag"] == f'"{c["model"]}.raw"'
    assert hashlib.sha256(r.content).digest() == root.digest
    links = decode_node(r.content).links
    assert len(links) >= 3  # the model is a DAG: its root block links its chunks
    leaf = stack.client.get(f"/ipfs/{links[1].cid}", headers={"Accept": "application/vnd.ipld.raw"})
    assert leaf.headers["content-type"] == "application/vnd.ipld.raw" and links[1].cid.verify(leaf.content)
    via_path = stack.client.get(f"/ipfs/{c['directory']}/{c['token']}?format=raw")
    assert via_path.status_code == 200
    assert CID.parse(via_path.headers["etag"].strip('"').removesuffix(".raw")).verify(via_path.content)


def test_car_of_a_dag_and_of_a_path(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    r = stack.client.get(f"/ipfs/{c['model']}?format=car")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.ipld.car")
    roots, blocks = car.read(r.content)  # every block checked against its CID while reading
    assert roots == [CID.parse(c["model"])]
    assert b"".join(b for cid, b in blocks if cid.codec == 0x55) == cat(stack.runtime.store, roots[0])
    only = car.read(stack.client.get(f"/ipfs/{c['model']}?format=car&dag-scope=block").content)[1]
    assert [cid for cid, _ in only] == roots
    path_car = stack.client.get(f"/ipfs/{c['directory']}/{c['token']}", headers={"Accept": "application/vnd.ipld.car"})
    path_roots, path_blocks = car.read(path_car.content)
    assert path_roots == [CID.parse(c["directory"])] and path_blocks[0][0] == CID.parse(c["directory"])
    assert len(path_blocks) == 2  # the directory block, then the metadata file's
    bad_scope = stack.client.get(f"/ipfs/{c['model']}?format=car&dag-scope=everything")
    assert bad_scope.status_code == 400


def test_accept_q_values_are_honoured(content: tuple[Stack, dict[str, Any]]) -> None:
    """q=0 means "not acceptable" (RFC 9110 12.4.2): such a type is never the answer; among acceptable
    ones the highest q wins; `?format=` still wins over `Accept` (trustless gateway spec)."""
    stack, c = content
    url = f"/ipfs/{c['image']}"
    raw, car_type = "application/vnd.ipld.raw", "application/vnd.ipld.car"

    def answer(accept: str, query: str = "") -> tuple[str, str]:
        r = stack.client.get(url + query, headers={"Accept": accept})
        assert r.status_code == 200, r.text
        return r.headers["content-type"].split(";")[0], r.headers["etag"]

    file_answer = ("image/png", f'"{c["image"]}"')
    for refused in (f"{raw};q=0", f"{car_type};q=0", f"{raw};q=0, {car_type};q=0.0", f"{raw}; q=0, */*"):
        assert answer(refused) == file_answer, refused
    assert answer(f"{raw};q=0.5, {car_type};q=0.9") == (car_type, f'"{c["image"]}.car.all"')
    assert answer(f"{car_type};version=1;q=0.2, {raw}")[0] == raw
    assert answer(f"{car_type}, {raw}")[0] == car_type  # equal q: the client's order
    assert answer(raw.upper())[0] == raw  # media types are case-insensitive
    assert answer(f"{raw};q=0", "?format=raw")[0] == raw
    assert answer(f"{raw};q=0.9, {car_type};q=0", "?format=car")[0] == car_type


def test_a_tampered_block_is_never_served(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    store = stack.runtime.store
    assert isinstance(store, LocalBlockStore)
    path = raw_block(store, CID.parse(c["image"]))
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        for url in (f"/ipfs/{c['image']}", f"/ipfs/{c['image']}?format=raw", f"/ipfs/{c['image']}?format=car"):
            r = stack.client.get(url)
            assert r.status_code == 502, url
            assert r.json()["type"].endswith("/content-integrity")
    finally:
        path.write_bytes(original)
    assert stack.client.get(f"/ipfs/{c['image']}").content == png(5)


def test_bad_requests_are_problems(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    cases = {
        "/ipfs/not-a-cid": 400,
        f"/ipfs/{c['image']}?format=tar": 400,
        f"/ipfs/{c['directory']}/../{c['token']}": 400,
        f"/ipfs/{c['directory']}/no-such-entry": 404,
        f"/ipfs/{c['image']}/inside-a-file": 404,
        f"/ipfs/{CID.of(b'never stored', codec=0x55)}": 404,
    }
    for url, status in cases.items():
        r = stack.client.get(url)
        assert r.status_code == status, (url, r.text)
        assert r.headers["content-type"] == "application/problem+json"


def test_head_and_cors_preflight(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    head = stack.client.head(f"/ipfs/{c['image']}")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == f'"{c["image"]}"'
    pre = stack.client.options(
        f"/ipfs/{c['image']}", headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
    )
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"


def test_content_never_runs_as_a_page() -> None:
    """Whatever the bytes, the gateway never labels them HTML (its origin is the service's own)."""
    assert media_type(b"<html><script>alert(1)</script></html>") == "application/octet-stream"
    assert media_type(b'{"name": "x"}') == "application/json"


def test_answers_give_https_urls_next_to_ipfs_uris(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    base = stack.runtime.settings.gateway_base
    twin = stack.client.get(f"/v1/twins/{c['collection']}/{c['token']}").json()
    assert twin["token_url"] == f"{base}/{c['directory']}/{c['token']}"
    image_uri = f"ipfs://{c['image']}"
    assert twin["metadata"]["image"] == image_uri and twin["content_urls"][image_uri] == f"{base}/{c['image']}"
    verdict = stack.client.get(f"/v1/verify/{c['collection']}/{c['token']}").json()["twin"]
    assert verdict["token_url"] == twin["token_url"] and verdict["content_urls"] == twin["content_urls"]
    for url in (twin["token_url"], twin["content_urls"][image_uri]):  # each resolves through the gateway
        assert stack.client.get(url.removeprefix(stack.runtime.settings.base_url)).status_code == 200


def test_static_scripts_are_compressed_content_never_is(content: tuple[Stack, dict[str, Any]]) -> None:
    stack, c = content
    gz = {"Accept-Encoding": "gzip"}
    script = stack.client.get("/static/vendor/ethers-6.umd.min.js", headers=gz)
    assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
    model = stack.client.get(f"/ipfs/{c['model']}", headers=gz | {"Range": "bytes=0-99"})
    assert model.status_code == 206 and "content-encoding" not in model.headers and len(model.content) == 100
