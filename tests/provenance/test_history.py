"""Provenance from the index: what the indexer recorded (with block times), then the blocks it has not
reached read from the chain; the chain-only path gives the same timeline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlmodel import Session, col, select, update

from registry.chain.anvil import Anvil
from registry.events.models import ChainEvent
from tests.api.conftest import Stack, physical, running_stack, stack_settings


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    anvil = Anvil()
    anvil.start()
    with running_stack(stack_settings(tmp_path, anvil), anvil, with_worker=True, with_indexer=False) as running:
        yield running


def minted(stack: Stack) -> tuple[str, int, dict[str, str]]:
    headers, collection = stack.new_brand("History House", "HIS")
    job = stack.client.post("/v1/twins", json=physical("HIS-1"), headers=headers).json()
    token = stack.wait_job(headers, job["id"])["twins"][0]["token_id"]
    return collection, int(token), headers


def transfer(stack: Stack, collection: str, token: int, to: str) -> None:
    chain = stack.runtime.chain
    owner = chain.collection(collection).functions.ownerOf(token).call()
    assert owner == chain.sender.address  # the brand's custodian is the service's signer here
    chain.sender.transact(chain.collection(collection).functions.transferFrom(owner, to, token))


def provenance(stack: Stack, collection: str, token: int, source: str = "index") -> dict[str, Any]:
    r = stack.client.get(f"/v1/twins/{collection}/{token}/provenance", params={"source": source})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_index_then_the_blocks_beyond_it_match_the_chain(stack: Stack) -> None:
    collection, token, _ = minted(stack)
    first = Account.create().address
    transfer(stack, collection, token, first)
    stack.runtime.indexer.catch_up()
    with Session(stack.runtime.engine) as s:
        rows = s.exec(select(ChainEvent).where(ChainEvent.address == collection)).all()
    w3 = stack.runtime.w3
    # Every recorded event carries its block's time, as the chain has it.
    assert rows and all(r.block_time == w3.eth.get_block(r.block_number)["timestamp"] for r in rows)

    # A move the index has not reached yet (the indexer is stopped): read from the chain beyond it.
    second = Account.create()
    w3.provider.make_request("anvil_setBalance", [first, hex(10**18)])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_impersonateAccount", [first])  # type: ignore[arg-type]
    w3.eth.send_transaction(
        {
            "from": first,
            "to": collection,
            "data": stack.runtime.chain.collection(collection).encode_abi(
                "transferFrom", [first, second.address, token]
            ),
        }
    )
    index = provenance(stack, collection, token)
    chain = provenance(stack, collection, token, "chain")
    assert [e["event"] for e in index["events"]] == ["minted", "transferred", "transferred"]
    assert index["events"][-1]["to"] == second.address
    assert index["events"] == chain["events"]
    assert index["source"] == "index" and chain["source"] == "chain" and chain["indexed_to_block"] is None
    last_indexed = max(r.block_number for r in rows)
    assert index["indexed_to_block"] >= last_indexed
    assert index["events"][-1]["block_number"] > index["indexed_to_block"]  # this one came from the chain
    assert index["as_of_block"] >= index["events"][-1]["block_number"]
    block = w3.eth.get_block(index["indexed_to_block"])
    assert index["indexed_block_hash"] == block["hash"].to_0x_hex()


def test_the_indexed_part_is_read_from_the_index(stack: Stack) -> None:
    """A planted change in the index shows in the index answer and not in the chain's: the indexed
    part really comes from the database, not from a scan of the chain."""
    collection, token, _ = minted(stack)
    buyer = Account.create().address
    transfer(stack, collection, token, buyer)
    stack.runtime.indexer.catch_up()
    planted = Account.create().address
    with Session(stack.runtime.engine) as s:
        row = s.exec(
            select(ChainEvent)
            .where(ChainEvent.address == collection, ChainEvent.name == "Transfer", ChainEvent.token_id == token)
            .order_by(col(ChainEvent.block_number).desc())
        ).first()
        assert row is not None and json.loads(row.args)["to"] == buyer
        args = json.loads(row.args) | {"to": planted}
        s.execute(update(ChainEvent).where(col(ChainEvent.id) == row.id).values(args=json.dumps(args)))
        s.commit()
    assert provenance(stack, collection, token)["events"][-1]["to"] == planted
    assert provenance(stack, collection, token, "chain")["events"][-1]["to"] == buyer


def test_rows_recorded_without_a_time_get_their_blocks_time(stack: Stack) -> None:
    """Events indexed before block times were kept (migration 0005) are answered with their block's
    time, read from the block header."""
    collection, token, _ = minted(stack)
    stack.runtime.indexer.catch_up()
    with Session(stack.runtime.engine) as s:
        s.execute(update(ChainEvent).values(block_time=None))
        s.commit()
    index = provenance(stack, collection, token)
    assert index["events"] == provenance(stack, collection, token, "chain")["events"]


def test_an_unknown_twin_is_404_from_both_sources(stack: Stack) -> None:
    collection, token, _ = minted(stack)
    stack.runtime.indexer.catch_up()
    for source in ("index", "chain"):
        r = stack.client.get(f"/v1/twins/{collection}/{token + 1}/provenance", params={"source": source})
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    bad = stack.client.get(f"/v1/twins/{collection}/{token}/provenance", params={"source": "gossip"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_chain_only_reads_are_rationed_per_client(tmp_path: Path) -> None:
    """A client hammering `?source=chain` (each scans the chain in spans, spending the RPC provider's
    quota) is refused with 429 problems once its minute's share is used; the index path still answers."""
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(tmp_path, anvil, chain_provenance_per_minute=3)
    with running_stack(settings, anvil, with_worker=True, with_indexer=False) as stack:
        collection, token, _ = minted(stack)
        stack.runtime.indexer.catch_up()
        codes = [
            stack.client.get(f"/v1/twins/{collection}/{token}/provenance", params={"source": "chain"}).status_code
            for _ in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        refused = stack.client.get(f"/v1/twins/{collection}/{token}/provenance", params={"source": "chain"})
        assert refused.headers["content-type"] == "application/problem+json" and "retry-after" in refused.headers
        assert provenance(stack, collection, token)["source"] == "index"
