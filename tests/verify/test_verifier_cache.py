"""The Verifier's caches over a real service stack (Anvil, local block store, SQLite): passing answers
live for one head block, failures are never kept, chain facts are per block, and passing content
checks are reused by token URI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.chain.anvil import Anvil
from registry.ipfs.cid import CID
from registry.runtime import Runtime
from registry.verify.schemas import CheckOut, VerificationOut
from registry.verify.service import Verifier
from tests.api.conftest import Stack, physical, png, running_stack, stack_settings
from tests.support.blocks import RawBlock, raw_block

STOLEN, ACTIVE = 2, 0


@dataclass
class Minted:
    stack: Stack
    collection: str
    tokens: list[int]
    image: str


@dataclass
class HeldHead:
    """A head that moves only when the test says so (a watcher that has not polled yet)."""

    block: int


@pytest.fixture(scope="module")
def minted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minted]:
    """A service stack (no background indexer) with four twins minted through the API, sharing one image."""
    tmp: Path = tmp_path_factory.mktemp("verify-cache")
    anvil = Anvil()
    anvil.start()
    with running_stack(stack_settings(tmp, anvil), anvil, with_indexer=False) as stack:
        headers, collection = stack.new_brand("Cache House", "CACH")
        image = stack.upload(headers, png(41))
        twins = [physical(f"C-{i}", image=image, code="761234567894") for i in range(4)]
        job_id = stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()["id"]
        job = stack.wait_job(headers, job_id)
        assert job["state"] == "completed", job
        yield Minted(stack, collection, [t["token_id"] for t in job["twins"]], image)


def _runtime(m: Minted) -> Runtime:
    return m.stack.runtime


def _settled_head(rt: Runtime) -> int:
    """Waits until the head watcher itself has polled the node's latest block (a poll that started
    before the newest block can no longer move it back) and returns that block."""
    target = int(rt.w3.eth.block_number)
    deadline = time.monotonic() + 10
    while rt.head.block != target:
        assert time.monotonic() < deadline, f"head watcher stuck at {rt.head.block}, node at {target}"
        time.sleep(0.02)
    time.sleep(0.3)  # one more poll interval: any poll in flight read `target` too
    assert rt.head.block == target
    return target


def _mine(rt: Runtime) -> int:
    rt.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return _settled_head(rt)


def _check(answer: VerificationOut, name: str) -> CheckOut:
    return next(c for c in answer.checks if c.name == name)


def _image_path(m: Minted) -> RawBlock:
    """The image's block in the store, to delete and put back behind the verifier's back."""
    return raw_block(_runtime(m).store, CID.parse(m.image))


def test_a_passing_answer_is_served_until_the_head_moves(minted: Minted) -> None:
    """verify_json's passing answer comes back byte for byte from cached_json while the head block is
    unchanged; once a new block is mined and seen, cached_json has nothing until the next verification."""
    rt, collection, token = _runtime(minted), minted.collection, minted.tokens[0]
    verifier = Verifier(rt.chain, rt.store, rt.head)
    block = _settled_head(rt)
    assert verifier.cached_json(collection, token) is None
    body = verifier.verify_json(collection, token)
    answer = json.loads(body)
    assert answer["authentic"] is True and answer["as_of_block"] == block
    assert verifier.cached_json(collection, token) is body  # the stored bytes, no recomputation
    assert verifier.cached_json(collection, minted.tokens[1]) is None  # per token
    assert verifier.cached_json(collection, token) is body  # still there on a second read

    moved = _mine(rt)
    assert moved == block + 1
    assert verifier.cached_json(collection, token) is None
    again = verifier.verify_json(collection, token)
    assert json.loads(again)["as_of_block"] == moved and json.loads(again)["authentic"] is True
    assert verifier.cached_json(collection, token) == again


def test_failing_answers_are_never_cached(minted: Minted) -> None:
    """Never-minted tokens, foreign contracts and twins whose asset is missing fail; none of these
    answers is served from the cache, and a failure does not outlive its cause."""
    rt, collection, token = _runtime(minted), minted.collection, minted.tokens[1]
    verifier = Verifier(rt.chain, rt.store, rt.head)
    _settled_head(rt)
    for contract, token_id in [(collection, 99_001), ("0x" + "12" * 20, 10_001)]:
        assert json.loads(verifier.verify_json(contract, token_id))["authentic"] is False
        assert verifier.cached_json(contract, token_id) is None

    path = _image_path(minted)
    original = path.read_bytes()
    path.unlink()
    try:
        failed = VerificationOut.model_validate_json(verifier.verify_json(collection, token))
        assert failed.authentic is False
        assert not _check(failed, "assets_integrity").ok and minted.image in _check(failed, "assets_integrity").detail
        assert verifier.cached_json(collection, token) is None
    finally:
        path.write_bytes(original)
    # Same head block, same verifier: the content is checked again and the twin passes at once.
    passed = VerificationOut.model_validate_json(verifier.verify_json(collection, token))
    assert passed.authentic is True and passed.as_of_block == failed.as_of_block
    assert verifier.cached_json(collection, token) is not None


def test_chain_facts_are_per_head_block(minted: Minted) -> None:
    """Chain facts are read once per head block: a theft report mined after the head the verifier
    knows does not show until the head moves to the block that holds it."""
    rt, collection, token = _runtime(minted), minted.collection, minted.tokens[2]
    head = HeldHead(_settled_head(rt))
    verifier = Verifier(rt.chain, rt.store, head)
    before = verifier.verify(collection, token)
    assert before.authentic is True and before.twin is not None and before.twin.status == "active"
    contract = rt.chain.collection(collection)
    rt.chain.sender.transact(contract.functions.setStatusByBrand(token, STOLEN))
    try:
        reported_at = int(rt.w3.eth.block_number)
        assert reported_at > head.block
        same_block = verifier.verify(collection, token)
        assert same_block == before  # the facts of block `head.block`, not re-read
        head.block = reported_at
        after = verifier.verify(collection, token)
        assert after.as_of_block == reported_at
        assert after.authentic is False and after.twin is not None and after.twin.status == "stolen"
        assert _check(after, "status") == CheckOut(name="status", ok=False, detail="reported stolen")
        # A verifier that never saw the old block reads the chain afresh.
        assert Verifier(rt.chain, rt.store, HeldHead(reported_at)).verify(collection, token) == after
    finally:
        rt.chain.sender.transact(contract.functions.setStatusByBrand(token, ACTIVE))


def test_chain_facts_of_older_heads_are_not_kept(minted: Minted) -> None:
    """Chain facts are kept for the current head block only: once the head moves, the facts of every
    twin verified at an older head are dropped, not only those of the twin verified again (found by
    the chaos soak: kept per twin, every twin ever verified held a dead entry, and the API's memory
    grew with the distinct twins verified until the LRU held 50,000 of them)."""
    rt, collection = _runtime(minted), minted.collection
    head = HeldHead(_settled_head(rt))
    verifier = Verifier(rt.chain, rt.store, head)
    first = (rt.w3.to_checksum_address(collection), minted.tokens[0])
    for _ in range(3):
        for token in minted.tokens:
            assert verifier.verify(collection, token).as_of_block == head.block
        assert len(verifier._chain_facts) == len(minted.tokens)  # this head's facts, one per twin
        facts = verifier._chain_facts[first]
        verifier.verify(collection, minted.tokens[0])
        assert verifier._chain_facts[first] is facts  # same head: reused, not read again
        head.block = _mine(rt)
    answer = verifier.verify(collection, minted.tokens[3])
    assert answer.as_of_block == head.block and answer.authentic is True
    assert list(verifier._chain_facts) == [(answer.contract, minted.tokens[3])]  # the older head's are gone


def test_content_cache_keeps_metadata_bytes_not_documents(minted: Minted) -> None:
    """The content cache holds each metadata file's bytes, not the parsed document (which took several
    times the memory: the chaos soak's API grew by ~4 KB with each distinct twin verified), and every
    answer gets a document of its own, so a change to one answer never reaches another."""
    rt, collection, token = _runtime(minted), minted.collection, minted.tokens[1]
    head = HeldHead(_settled_head(rt))
    verifier = Verifier(rt.chain, rt.store, head)
    first = verifier.verify(collection, token)
    head.block = _mine(rt)
    second = verifier.verify(collection, token)  # a new head: chain facts read again, content from the cache
    assert second.as_of_block == head.block and second.authentic is True
    assert first.twin is not None and second.twin is not None
    assert first.twin.metadata is not None and second.twin.metadata is not None
    assert second.twin.metadata == first.twin.metadata
    assert second.twin.metadata is not first.twin.metadata
    ((raw, _),) = verifier._content.values()
    assert isinstance(raw, bytes) and json.loads(raw) == first.twin.metadata
    first.twin.metadata["name"] = "changed by a caller"
    head.block = _mine(rt)
    third = verifier.verify(collection, token)
    assert third.twin is not None and third.twin.metadata == second.twin.metadata


def test_passing_content_checks_are_reused_by_cid(minted: Minted) -> None:
    """A CID names immutable bytes: once a metadata file or an asset has passed, its check is reused
    (also on a new head block and for another twin sharing the asset) even if the block disappears
    from the store meanwhile; a new Verifier checks again and sees the missing asset; failures are
    not kept."""
    rt, collection = _runtime(minted), minted.collection
    token, other = minted.tokens[3], minted.tokens[0]
    assert rt.chain.twin(collection, token).uri != rt.chain.twin(collection, other).uri  # type: ignore[union-attr]
    verifier = Verifier(rt.chain, rt.store, rt.head, rt.engine)
    _settled_head(rt)
    assert verifier.verify(collection, token).authentic is True
    path = _image_path(minted)
    original = path.read_bytes()
    path.unlink()
    try:
        reused = verifier.verify(collection, token)
        assert reused.authentic is True and _check(reused, "assets_integrity").ok
        moved = _mine(rt)
        still = verifier.verify(collection, token)
        assert still.as_of_block == moved and still.authentic is True  # content is not per block
        shared = verifier.verify(collection, other)  # another metadata file, the same image CID
        assert shared.authentic is True and _check(shared, "assets_integrity").ok
        fresh = Verifier(rt.chain, rt.store, rt.head, rt.engine)
        answer = fresh.verify(collection, token)
        assets = _check(answer, "assets_integrity")
        assert answer.authentic is False and not assets.ok and minted.image in assets.detail
        path.write_bytes(original)
        assert fresh.verify(collection, token).authentic is True
    finally:
        path.write_bytes(original)  # put back (a replace: harmless if it is there already)
