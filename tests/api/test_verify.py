"""Verification fails each check for the right reason: tampering, missing content, compromise, theft."""

from __future__ import annotations

import json
from typing import Any

import pytest
from web3 import Web3

from registry.ipfs.cid import CID
from registry.ipfs.store import LocalBlockStore, directory_entry
from registry.verify.schemas import VerificationOut
from tests.api.conftest import Stack, physical, png
from tests.support.blocks import raw_block


@pytest.fixture(scope="module")
def minted(stack: Stack) -> dict[str, Any]:
    headers, collection = stack.new_brand("Verify House", "VERI")
    image = stack.upload(headers, png(77))
    job = stack.wait_job(
        headers,
        stack.client.post(
            "/v1/batches",
            json={"twins": [physical(f"V-{i}", image=image, code="761234567894") for i in range(4)]},
            headers=headers,
        ).json()["id"],
    )
    return {
        "headers": headers,
        "collection": collection,
        "image": image,
        "tokens": [t["token_id"] for t in job["twins"]],
        "job": job,
    }


def check(verdict: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in verdict["checks"] if c["name"] == name)


def verify(stack: Stack, collection: str, token: int) -> dict[str, Any]:
    r = stack.client.get(f"/v1/verify/{collection}/{token}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_unknown_collection_and_token(stack: Stack, minted: dict[str, Any]) -> None:
    fake = verify(stack, "0x" + "12" * 20, 10_001)
    assert fake["authentic"] is False
    assert not check(fake, "genuine_collection")["ok"]
    missing = verify(stack, minted["collection"], 99_001)
    assert missing["authentic"] is False and "never minted" in check(missing, "token_exists")["detail"]


def test_the_answer_keeps_its_shape(stack: Stack, minted: dict[str, Any]) -> None:
    """The verifier hands over a `VerificationOut`; the body keeps the keys it always had: no `twin` for
    a token that does not exist (rather than `null`), the twin's https URLs beside its `ipfs://` URI."""
    missing = stack.client.get(f"/v1/verify/{minted['collection']}/99002").content
    assert set(json.loads(missing)) == {"contract", "token_id", "as_of_block", "authentic", "checks"}
    body = stack.client.get(f"/v1/verify/{minted['collection']}/{minted['tokens'][1]}").content
    twin = json.loads(body)["twin"]
    assert list(twin) == [
        *("name", "kind", "owner", "status", "claimed", "unclaimed", "owner_since", "owners"),
        *("last_service_record", "batch_id", "minted_at", "token_uri", "token_url", "content_urls"),
        *("metadata_cid", "brand", "metadata"),
    ]
    assert twin["token_url"].startswith(stack.runtime.settings.gateway_base + "/")
    answer = VerificationOut.model_validate_json(body)
    assert answer.twin is not None and answer.twin.brand.name == "Verify House" and answer.authentic


def test_tampered_metadata_fails_its_check(stack: Stack, minted: dict[str, Any]) -> None:
    store = stack.runtime.store
    assert isinstance(store, LocalBlockStore)  # tampering is done on the local store's files
    token = minted["tokens"][0]
    directory = CID.parse(minted["job"]["batches"][0]["directory_cid"])
    file_cid = directory_entry(store, directory, str(token))
    path = raw_block(store, file_cid)
    original = path.read_bytes()
    path.write_bytes(original.replace(b"Sac Iconique", b"Sac Contrefait"))
    try:
        verdict = verify(stack, minted["collection"], token)
        assert verdict["authentic"] is False
        meta = check(verdict, "metadata_integrity")
        assert not meta["ok"] and "does not hash to that CID" in meta["detail"]
    finally:
        path.write_bytes(original)
    assert verify(stack, minted["collection"], token)["authentic"] is True


def test_missing_asset_fails_its_check(stack: Stack, minted: dict[str, Any]) -> None:
    """An asset nobody verified yet (passing checks are kept by CID) that the store has lost."""
    store = stack.runtime.store
    assert isinstance(store, LocalBlockStore)
    image = stack.upload(minted["headers"], png(78))
    twin = physical("V-lost-image", image=image, code="761234567894")
    job = stack.wait_job(
        minted["headers"], stack.client.post("/v1/twins", json=twin, headers=minted["headers"]).json()["id"]
    )
    token = job["twins"][0]["token_id"]
    path = raw_block(store, CID.parse(image))
    original = path.read_bytes()
    path.unlink()
    try:
        verdict = verify(stack, minted["collection"], token)
        assets = check(verdict, "assets_integrity")
        assert verdict["authentic"] is False and not assets["ok"] and image in assets["detail"]
    finally:
        path.write_bytes(original)
    assert verify(stack, minted["collection"], token)["authentic"] is True  # a failure is not kept


def test_stolen_status_fails_and_recovery_restores(stack: Stack, minted: dict[str, Any]) -> None:
    token = minted["tokens"][2]
    chain = stack.runtime.chain
    contract = chain.collection(minted["collection"])
    chain.sender.transact(contract.functions.setStatusByBrand(token, 2))
    _wait_block(stack)
    verdict = verify(stack, minted["collection"], token)
    assert verdict["authentic"] is False and check(verdict, "status") == {
        "name": "status",
        "ok": False,
        "detail": "reported stolen",
    }
    assert verdict["twin"]["status"] == "stolen"
    chain.sender.transact(contract.functions.setStatusByBrand(token, 0))
    _wait_block(stack)
    assert verify(stack, minted["collection"], token)["authentic"] is True


def test_brand_compromise_fails_twins_minted_after_it(stack: Stack, minted: dict[str, Any]) -> None:
    chain = stack.runtime.chain
    before = minted["tokens"][3]
    brand_id = chain.brand_of(minted["collection"])
    w3: Web3 = chain.w3
    w3.provider.make_request("evm_increaseTime", [60])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    start = int(w3.eth.get_block("latest")["timestamp"])
    chain.sender.transact(chain.registry.functions.markCompromised(brand_id, start))
    _wait_block(stack)
    assert verify(stack, minted["collection"], before)["authentic"] is True  # minted before the window
    # While compromised the brand cannot mint at all; close the window, mint, then flag a window covering it.
    chain.sender.transact(chain.registry.functions.resolveCompromise(brand_id))
    headers = minted["headers"]
    job = stack.wait_job(
        headers,
        stack.client.post("/v1/twins", json=physical("V-LATE", code="761234567894"), headers=headers).json()["id"],
    )
    late = job["twins"][0]["token_id"]
    assert verify(stack, minted["collection"], late)["authentic"] is True
    minted_at = chain.collection(minted["collection"]).functions.twin(late).call()[7]
    chain.sender.transact(chain.registry.functions.markCompromised(brand_id, minted_at))
    _wait_block(stack)
    verdict = verify(stack, minted["collection"], late)
    standing = check(verdict, "issuer_standing")
    assert verdict["authentic"] is False and not standing["ok"] and "compromised" in standing["detail"]
    assert verify(stack, minted["collection"], before)["authentic"] is True
    chain.sender.transact(chain.registry.functions.resolveCompromise(brand_id))


def _wait_block(stack: Stack) -> None:
    """Answers are cached per head block: wait until the watcher has seen the latest one."""
    import time

    target = int(stack.runtime.w3.eth.block_number)
    deadline = time.monotonic() + 5
    while stack.runtime.head.block < target and time.monotonic() < deadline:
        time.sleep(0.02)
