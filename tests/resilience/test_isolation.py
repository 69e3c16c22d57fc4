"""A job that cannot fully proceed (its link target destroyed after submission) neither blocks other
brands' jobs nor is retried for ever: its twins are recorded with the refusal on the batch. And a link
that cannot succeed is refused at submission."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Stack, fresh_stack, glb, physical, png


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path_factory.mktemp("isolation"), start={"with_worker": False}, indexer_in_process=False
    ) as running:  # the test drives the worker
        yield running


def virtual(stack: Stack, headers: dict[str, str], contract: str, token: int, seed: int) -> dict[str, Any]:
    return {
        "kind": "virtual",
        "name": f"Digital bag {seed}",
        "representations": [{"body_shapes": ["BaseMale"], "model": stack.upload(headers, glb({"seed": seed}))}],
        "preview_image": stack.upload(headers, png(seed)),
        "physical_twin": {"contract": contract, "token_id": token},
    }


def test_a_poisoned_link_blocks_nobody_and_is_refused_at_submission(stack: Stack) -> None:
    a, collection = stack.new_brand("Isolation A", "ISA")
    b, _ = stack.new_brand("Isolation B", "ISB")
    worker = stack.runtime.worker
    bag = stack.client.post("/v1/twins", json=physical("I-1", code="871234567895"), headers=a).json()["id"]
    worker.drain()
    token = stack.wait_job(a, bag)["twins"][0]["token_id"]

    linked = stack.client.post("/v1/twins", json=virtual(stack, a, collection, token, 1), headers=a)
    assert linked.status_code == 202, linked.text
    chain = stack.runtime.chain
    chain.sender.transact(chain.collection(collection).functions.burn(token))  # destroyed meanwhile
    other = stack.client.post("/v1/twins", json=physical("I-2", code="871234567896"), headers=b).json()["id"]

    worker.drain(timeout=60)  # finishes: nothing is retried for ever
    assert stack.wait_job(b, other)["state"] == "completed"
    poisoned = stack.wait_job(a, linked.json()["id"])
    assert poisoned["state"] == "completed" and poisoned["counts"]["recorded"] == 1
    assert "link refused" in (poisoned["batches"][0]["error"] or ""), poisoned

    again = stack.client.post("/v1/twins", json=virtual(stack, a, collection, token, 2), headers=a)
    assert again.status_code == 422 and "destroyed" in again.json()["detail"], again.text
