"""The registry as an index of the chain: complete, once, reorg-safe, rebuildable, single-writer."""

from __future__ import annotations

import time
from typing import Any

from eth_account import Account
from sqlmodel import Session, func, select

from registry.events.models import ChainEvent
from registry.indexer.models import IndexCursor
from registry.indexer.rebuild import rebuild
from registry.indexer.service import Indexer
from registry.twins.models import Twin
from tests.api.conftest import physical, png
from tests.indexer.conftest import Indexed
from tests.support.chain_conditions import ChainConditions


def wait_job(ix: Indexed, job_id: str) -> dict[str, Any]:
    for _ in range(400):
        job = ix.client.get(f"/v1/jobs/{job_id}", headers=ix.brand).json()
        if job["state"] in ("completed", "failed"):
            return dict(job)
        time.sleep(0.05)
    raise TimeoutError


def test_every_log_is_indexed_once_and_twins_follow_the_chain(indexed: Indexed) -> None:
    ix = indexed
    image = ix.client.post("/v1/assets", files={"file": ("a.png", png(3))}, headers=ix.brand).json()["cid"]
    twins = [physical(f"IX-{i}", image=image, code="400638133390") for i in range(5)]
    job = wait_job(ix, ix.client.post("/v1/batches", json={"twins": twins}, headers=ix.brand).json()["id"])
    first = job["twins"][0]["token_id"]
    chain = ix.runtime.chain
    col = chain.collection(ix.collection)
    buyer = Account.create().address
    chain.sender.transact(col.functions.transferFrom(chain.sender.address, buyer, first))
    chain.sender.transact(col.functions.setStatusByBrand(first + 1, 2))
    direct = ix.mint_direct(["Outside the API 1", "Outside the API 2"])

    ingested = ix.runtime.indexer.catch_up()
    logs = ix.runtime.w3.eth.get_logs(
        {"fromBlock": 0, "toBlock": "latest", "address": [chain.registry.address, ix.collection]}
    )
    assert ingested == len(logs)
    with Session(ix.runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(ChainEvent)).one() == len(logs)
        rows = {t.token_id: t for t in s.exec(select(Twin).where(Twin.collection == ix.collection))}
    assert rows[first].owner == buyer and rows[first].job_id == job["id"]  # reconciled with the API's row
    assert rows[first + 1].status == 2 and rows[first + 2].owner == chain.sender.address
    assert rows[direct].name == "Outside the API 1" and rows[direct].job_id is None  # known from the chain alone
    assert ix.runtime.indexer.catch_up() == 0  # nothing twice
    with Session(ix.runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(ChainEvent)).one() == len(logs)


def test_a_real_reorg_ends_identical_to_a_fresh_index(indexed: Indexed) -> None:
    ix = indexed
    ix.mint_direct(["Kept 1", "Kept 2"])
    ix.runtime.indexer.catch_up()
    fork_point = ix.rpc("evm_snapshot")
    # Branch A: a batch and a transfer the indexer sees, then the chain drops them.
    orphan = ix.mint_direct(["Orphan 1", "Orphan 2", "Orphan 3"])
    chain = ix.runtime.chain
    chain.sender.transact(
        chain.collection(ix.collection).functions.transferFrom(chain.sender.address, Account.create().address, orphan)
    )
    ix.runtime.indexer.catch_up()
    assert any(t[8] == "Orphan 1" for t in ix.snapshot_index()["twins"])
    ix.rpc("evm_revert", fork_point)
    chain.sender._nonce = None  # the node forgot branch A's transactions
    # Branch B: different transactions at the same heights, and a longer chain.
    replacement = ix.mint_direct(["Replacement"])
    chain.sender.transact(chain.collection(ix.collection).functions.setStatusByBrand(replacement, 2))
    for _ in range(3):
        ix.rpc("evm_mine")
    ix.runtime.indexer.catch_up()
    after_reorg = ix.snapshot_index()
    names = [t[8] for t in after_reorg["twins"]]
    assert "Orphan 1" not in names and "Replacement" in names
    rebuild(ix.runtime.indexer)
    assert ix.snapshot_index() == after_reorg


def test_rebuild_answers_the_public_api_the_same(indexed: Indexed) -> None:
    ix = indexed
    twin = physical("RB-1", code="400638133390") | {"claimable": True}
    job = wait_job(ix, ix.client.post("/v1/twins", json=twin, headers=ix.brand).json()["id"])
    token = job["twins"][0]["token_id"]
    secret = ix.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=ix.brand).json()["secrets"][0]["secret"]
    buyer = Account.create().address
    updated = physical("RB-1", code="400638133390") | {"description": "Serviced"}
    assert (
        ix.client.put(f"/v1/twins/{ix.collection}/{token}/metadata", json=updated, headers=ix.brand).status_code == 200
    )
    ix.runtime.indexer.catch_up()
    paths = [
        f"/v1/twins/{ix.collection}/{token}",
        f"/v1/twins?gtin={twin['gtin']}&serial=RB-1",
        f"/v1/verify/{ix.collection}/{token}",
        f"/v1/twins/{ix.collection}/{token}/provenance",
        f"/v1/jobs/{job['id']}",
    ]
    before = [ix.client.get(p, headers=ix.brand).json() for p in paths]
    rebuild(ix.runtime.indexer)
    after = [ix.client.get(p, headers=ix.brand).json() for p in paths]
    assert after == before
    # Claim keys came back from the batch directory on IPFS: the twin can still be claimed.
    r = ix.client.post(f"/v1/twins/{ix.collection}/{token}/claim", json={"secret": secret, "recipient": buyer})
    assert r.status_code == 200, r.text


def test_one_indexer_writes_per_chain(indexed: Indexed) -> None:
    ix = indexed
    rt = ix.runtime
    assert rt.indexer.lease.hold()
    other = Indexer(rt.engine, rt.chain, rt.store, rt.settings)
    assert not other.lease.hold()
    rt.indexer.lease.release()
    assert other.lease.hold()


def test_block_ranges_adapt(indexed: Indexed) -> None:
    ix = indexed
    rt = ix.runtime
    for _ in range(20):
        ix.rpc("evm_mine")
    rt.indexer.catch_up()
    with Session(rt.engine) as s:
        cursor = s.get(IndexCursor, rt.chain.sender.chain_id)
        assert cursor is not None
        cursor.range_size = 1
        cursor.next_block = 0
        cursor.last_hash = None
        s.add(cursor)
        s.exec(select(ChainEvent)).all()
        for e in s.exec(select(ChainEvent)):
            s.delete(e)
        s.commit()
    rt.indexer.forget()  # the index was changed underneath the indexer
    rt.indexer.step()
    rt.indexer.step()
    with Session(rt.engine) as s:
        cursor = s.get(IndexCursor, rt.chain.sender.chain_id)
        assert cursor is not None and cursor.range_size == 4 and cursor.next_block == 3


def test_a_reorg_that_orphans_a_recorded_mint_hands_it_back_to_the_worker(indexed: Indexed) -> None:
    ix = indexed
    fork_point = ix.rpc("evm_snapshot")
    twins = [physical(f"ORPH-{i}", code="400638133391") for i in range(3)]
    job = wait_job(ix, ix.client.post("/v1/batches", json={"twins": twins}, headers=ix.brand).json()["id"])
    assert job["state"] == "completed"
    ix.runtime.indexer.catch_up()
    ix.rpc("evm_revert", fork_point)  # the mint is gone from the chain
    ix.runtime.chain.sender._nonce = None  # the node forgot the service's transactions
    for _ in range(5):
        ix.rpc("evm_mine")
    ix.runtime.indexer.catch_up()  # rewinds, drops the twins, reopens the batch for the worker
    job = wait_job(ix, job["id"])
    assert job["state"] == "completed" and job["counts"]["recorded"] == 3
    col = ix.runtime.chain.collection(ix.collection)
    assert col.functions.totalMinted().call() == 3 and col.functions.nextBatchId().call() == 2
    ix.runtime.indexer.catch_up()
    assert sorted(t[8] for t in ix.snapshot_index()["twins"]) == [f"Sac Iconique ORPH-{i}" for i in range(3)]


def test_a_reorg_that_lands_during_a_pass_is_followed(indexed: Indexed) -> None:
    """Nodes reorganise whenever they like, not between passes: one landing while a pass reads its
    range (after the pass checked its cursor, before it read the range's last block) must not leave
    orphaned events behind a cursor that matches the new chain. The index ends as the chain is."""
    ix = indexed
    token = ix.mint_direct(["Moved in a reorg"])
    indexer, chain = ix.runtime.indexer, ix.runtime.chain
    indexer.catch_up()
    col = chain.collection(ix.collection)
    chain.sender.transact(col.functions.transferFrom(chain.sender.address, Account.create().address, token))

    source = indexer.source
    fetch = source.fetch

    def fetch_then_reorg(start: int, end: int, collections: list[str]) -> list[dict[str, Any]]:
        logs = fetch(start, end, collections)  # the transfer, in the block about to be replaced
        source.fetch = fetch  # type: ignore[method-assign]  # once
        with ChainConditions(ix.anvil.url) as node:
            node.reorg(1, keep_txs=True)  # the same transfer, in a new block at the same height
        return logs

    source.fetch = fetch_then_reorg  # type: ignore[method-assign]
    indexer.catch_up()
    assert source.fetch is fetch  # the reorganisation happened inside the pass

    logs = ix.runtime.w3.eth.get_logs(
        {"fromBlock": 0, "toBlock": "latest", "address": [chain.registry.address, ix.collection]}
    )
    on_chain = sorted(
        (log["blockNumber"], log["blockHash"].to_0x_hex(), log["transactionHash"].to_0x_hex(), log["logIndex"])
        for log in logs
    )
    with Session(ix.runtime.engine) as s:
        indexed_events = sorted(
            (e.block_number, e.block_hash, e.tx_hash, e.log_index) for e in s.exec(select(ChainEvent))
        )
    assert indexed_events == on_chain


def test_a_reorg_that_deepens_while_the_index_rewinds_is_followed(indexed: Indexed) -> None:
    """The index rewinds from a shallow reorganisation; while it does, the chain reorganises deeper,
    past the block the rewind just found in common: the index still ends as the chain is."""
    ix = indexed
    token = ix.mint_direct(["Kept, then orphaned"])
    indexer, chain = ix.runtime.indexer, ix.runtime.chain
    col = chain.collection(ix.collection)
    chain.sender.transact(col.functions.transferFrom(chain.sender.address, Account.create().address, token))
    indexer.catch_up()
    mint_block = ix.runtime.w3.eth.block_number - 1  # the mint's block, then the transfer's

    source = indexer.source
    block_hash = source.block_hash

    def deepen_after_the_ancestor(number: int) -> str | None:
        found = block_hash(number)
        if number == mint_block:  # the rewind found its common ancestor: now that block goes too
            source.block_hash = block_hash  # type: ignore[method-assign]  # once
            with ChainConditions(ix.anvil.url) as node:
                node.reorg(2)
        return found

    with ChainConditions(ix.anvil.url) as node:
        node.reorg(1, keep_txs=True)  # the transfer moves to a new block: the index rewinds to the mint
    source.block_hash = deepen_after_the_ancestor  # type: ignore[method-assign]
    indexer.catch_up()
    assert source.block_hash is block_hash  # the deeper reorganisation happened during the rewind

    logs = ix.runtime.w3.eth.get_logs(
        {"fromBlock": 0, "toBlock": "latest", "address": [chain.registry.address, ix.collection]}
    )
    on_chain = sorted(
        (log["blockNumber"], log["blockHash"].to_0x_hex(), log["transactionHash"].to_0x_hex(), log["logIndex"])
        for log in logs
    )
    with Session(ix.runtime.engine) as s:
        indexed_events = sorted(
            (e.block_number, e.block_hash, e.tx_hash, e.log_index) for e in s.exec(select(ChainEvent))
        )
    assert indexed_events == on_chain
    assert not any(e[0] >= mint_block for e in indexed_events)  # the mint and transfer are gone with their blocks
