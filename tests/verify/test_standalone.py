"""`twinmark verify --rpc --registry --gateway`: the same verdict as /v1/verify with nothing of the
service but its public gateway, or with another IPFS node's gateway and no Twinmark server at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.main import create_app
from registry.ipfs.cid import CID
from registry.standalone import standalone_verifier
from tests.api.conftest import Stack, fresh_stack, glb, physical, png
from tests.support.blocks import raw_block
from tests.support.ipfs_daemon import copy_dag
from tests.support.server import serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def minted(tmp_path_factory: pytest.TempPathFactory, ipfs_daemon: str) -> Iterator[tuple[Stack, str, dict[str, Any]]]:
    with fresh_stack(tmp_path_factory.mktemp("standalone")) as stack, serve(create_app(runtime=stack.runtime)) as base:
        headers, collection = stack.new_brand("Skeptic House", "SKEP")
        image = stack.upload(headers, png(11))
        model = stack.upload(headers, glb(bin_chunk=os.urandom(600_000)))  # a multi-block DAG
        batch = {"twins": [physical(f"S-{i}", image=image, code="761234567894") for i in range(2)]}
        job = stack.wait_job(headers, stack.client.post("/v1/batches", json=batch, headers=headers).json()["id"])
        garment = {
            "kind": "virtual",
            "name": "Silk Scarf (virtual)",
            "representations": [{"body_shapes": ["BaseMale", "BaseFemale"], "model": model}],
            "preview_image": image,
        }
        single = stack.wait_job(headers, stack.client.post("/v1/twins", json=garment, headers=headers).json()["id"])
        # Another IPFS node (the js-ipfs daemon) gets the very same blocks.
        for cid in (job["batches"][0]["directory_cid"], single["batches"][0]["directory_cid"], image, model):
            copy_dag(base, cid, ipfs_daemon)
        yield (
            stack,
            base,
            {
                "collection": collection,
                "tokens": [job["twins"][0]["token_id"], single["twins"][0]["token_id"]],
                "image": image,
            },
        )


def same(verdict: dict[str, Any]) -> dict[str, Any]:
    """The verdict without what names the reader: the head it read at, the gateway it read through."""
    twin = {k: v for k, v in (verdict.get("twin") or {}).items() if k not in ("token_url", "content_urls")}
    return {k: v for k, v in verdict.items() if k != "as_of_block"} | {"twin": twin}


def test_same_verdict_and_checks_through_any_gateway(
    minted: tuple[Stack, str, dict[str, Any]], ipfs_gateway: str
) -> None:
    stack, base, m = minted
    registry = stack.runtime.chain.registry_address
    for gateway in (base, ipfs_gateway):
        verifier = standalone_verifier(stack.anvil.url, registry, gateway)
        for token in [*m["tokens"], 987_654]:
            served = stack.client.get(f"/v1/verify/{m['collection']}/{token}").json()
            mine = verifier.verify(m["collection"], token).model_dump(mode="json", exclude_unset=True)
            assert same(mine) == same(served), (gateway, token)
            assert mine["authentic"] is (token != 987_654)
            if mine["authentic"]:
                assert mine["twin"]["token_url"].startswith(f"{gateway}/ipfs/")
                own = stack.runtime.settings.gateway_base
                assert served["twin"]["token_url"] == served["twin"]["token_uri"].replace("ipfs://", f"{own}/")


def test_the_command_needs_no_database_and_no_api(
    minted: tuple[Stack, str, dict[str, Any]], ipfs_gateway: str, tmp_path: Path
) -> None:
    stack, _, m = minted
    command = [sys.executable, "-m", "api.cli", "verify", m["collection"], str(m["tokens"][1]), "--json"]
    command += ["--rpc", stack.anvil.url, "--registry", stack.runtime.chain.registry_address]
    command += ["--gateway", ipfs_gateway, "--api", "http://127.0.0.1:9"]  # an API that is never there
    env = os.environ | {"TWINMARK_DATA_DIR": str(tmp_path / "nothing"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["authentic"] is True and answer["twin"]["kind"] == "virtual"
    assert not (tmp_path / "nothing").exists()  # no database, no block store was made


def test_a_tampered_byte_fails_through_both_gateways(
    minted: tuple[Stack, str, dict[str, Any]],
    ipfs_daemon: str,
    ipfs_gateway: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    stack, base, m = minted
    registry = stack.runtime.chain.registry_address
    token = m["tokens"][0]
    image = CID.parse(m["image"])
    # This service's store: one byte of the image flipped on disk.
    path = raw_block(stack.runtime.store, image)
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        verdict = standalone_verifier(stack.anvil.url, registry, base).verify(m["collection"], token)
    finally:
        path.write_bytes(original)
    assert verdict.authentic is False
    assert not next(c for c in verdict.checks if c.name == "assets_integrity").ok
    # Another node that lies: the js-ipfs daemon holding a tampered copy of the image's block under its CID.
    liar_repo = tmp_path_factory.mktemp("liar")
    from tests.support.ipfs_daemon import IpfsDaemon, TrustlessGateway

    liar = IpfsDaemon(liar_repo)
    liar_url = liar.start()
    lying_gateway = TrustlessGateway(liar_url)
    try:
        for cid in (stack.client.get(f"/v1/twins/{m['collection']}/{token}").json()["directory_cid"], m["image"]):
            copy_dag(base, cid, liar_url)
        blocks = list((liar_repo / "blocks").rglob("*.data"))
        target = next(p for p in blocks if p.read_bytes() == original)
        target.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        verdict = standalone_verifier(stack.anvil.url, registry, lying_gateway.start()).verify(m["collection"], token)
    finally:
        lying_gateway.stop()
        liar.stop()
    assert verdict.authentic is False
    assets = next(c for c in verdict.checks if c.name == "assets_integrity")
    assert not assets.ok and "does not hash to that CID" in assets.detail
