"""The service with a Kubo RPC store (a real js-ipfs daemon) instead of the local block store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry.chain.anvil import Anvil
from registry.ipfs.store import KuboStore
from tests.api.conftest import Stack, glb, physical, png, running_stack, stack_settings


@pytest.fixture(scope="module")
def kubo_stack(ipfs_daemon: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(tmp_path_factory.mktemp("kubo-stack"), anvil, ipfs_rpc_url=ipfs_daemon)
    with running_stack(settings, anvil) as running:
        yield running


def test_mint_and_verify_with_content_on_the_ipfs_daemon(kubo_stack: Stack) -> None:
    stack = kubo_stack
    assert isinstance(stack.runtime.store, KuboStore)
    brand, collection = stack.new_brand("Kubo House", "KUBO")
    image = stack.upload(brand, png(5))
    model = stack.upload(brand, glb())
    job = stack.wait_job(
        brand, stack.client.post("/v1/twins", json=physical("KB-1", image=image), headers=brand).json()["id"]
    )
    assert job["state"] == "completed", job
    token = job["twins"][0]["token_id"]
    verdict = stack.client.get(f"/v1/verify/{collection}/{token}").json()
    assert verdict["authentic"] is True, verdict
    assert stack.client.get("/readyz").json()["checks"]["ipfs"] == "ok"
    # The daemon serves the batch directory under the CID anchored on chain.
    directory = job["batches"][0]["directory_cid"]
    listing = stack.runtime.store._post("/ls", params={"arg": directory}).json()  # type: ignore[attr-defined]
    assert [link["Name"] for link in listing["Objects"][0]["Links"]] == [str(token)]
    assert model.startswith("bafk")
