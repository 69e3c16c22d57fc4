"""The chain's typed node reads (`registry.chain.node_reads`), the only way domains reach JSON-RPC, on
a real Anvil: the head and block hashes, range logs and a refused range, block times with and
without the node's `blockTimestamp`, reports pinned to a block (batched, refused after a
reorganisation) and gas-capped calls of code a caller chose."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account

from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain, mint_gas
from registry.chain.deploy import deploy
from registry.chain.layout import batch_tokens
from registry.chain.node import connect
from registry.chain.node_reads import BlockRef, LogRangeRefused
from registry.chain.reads import ChainReader
from registry.chain.sender import TxSender
from registry.errors import ChainUnavailable
from registry.settings import ANVIL_DEV_KEY
from tests.chain.test_sender import DECODER
from tests.support.chain_conditions import ChainConditions

SIZE = 120  # more twins than one JSON-RPC batch holds (node.BATCH_SIZE = 50)


@dataclass
class World:
    anvil: Anvil
    chain: TwinmarkChain
    collection: str
    tokens: list[int]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Anvil() as node:
        w3 = connect(node.url)  # the service's provider: batches go through its `make_batch_request`
        sender = TxSender(w3, Account.from_key(ANVIL_DEV_KEY), DECODER)
        chain = TwinmarkChain(w3, sender, deploy(w3, sender)["registry"])
        brand = chain.register_brand(sender.address, "Reads")
        collection = chain.create_collection(brand, "Reads", "RD", "", sender.address)
        fn = chain.mint_fn(collection, 1, sender.address, SIZE, 0, os.urandom(32), b"\0" * 32)
        sender.transact(fn, gas=mint_gas(SIZE))
        first, last = batch_tokens(1, SIZE)
        yield World(node, chain, collection, list(range(first, last + 1)))


def test_the_head_and_block_hashes_are_the_nodes(world: World) -> None:
    head = world.chain.head()
    block = world.chain.w3.eth.get_block("latest")
    assert head == BlockRef(block["number"], block["hash"].to_0x_hex())
    assert world.chain.block_hash_at(head.number) == head.hash
    assert world.chain.block_hash_at(head.number + 1_000) is None  # past the head: no block


def test_range_logs_and_a_range_the_node_refuses(world: World) -> None:
    chain, head = world.chain, world.chain.head()
    registry_logs = chain.range_logs(0, head.number, chain.registry_address)
    collection_logs = chain.range_logs(0, head.number, [world.collection])
    assert registry_logs and all(log["address"].lower() == chain.registry_address.lower() for log in registry_logs)
    assert len(collection_logs) >= SIZE  # a Transfer per twin, and the batch's events
    with ChainConditions(world.anvil.url) as proxy:
        proxy.configure(max_log_span=2)
        hosted = ChainReader(connect(proxy.url), chain.registry_address)
        with pytest.raises(LogRangeRefused):
            hosted.range_logs(0, head.number, [world.collection])
        assert hosted.range_logs(head.number, head.number, [world.collection]) == chain.range_logs(
            head.number, head.number, [world.collection]
        )
        assert proxy.stats().refused_span == 1


def test_block_times_from_logs_or_from_headers(world: World) -> None:
    chain, head = world.chain, world.chain.head()
    logs = chain.range_logs(0, head.number, [world.collection])[:3]
    expected = {log["blockHash"]: chain.w3.eth.get_block(log["blockHash"])["timestamp"] for log in logs}
    assert chain.block_times(logs) == expected
    # A node that leaves `blockTimestamp` out: the headers tell, in one batch; a block reorganised
    # away (a hash the node does not know) is left out rather than given a made-up time.
    bare = [{k: v for k, v in log.items() if k != "blockTimestamp"} for log in logs]
    gone = {"blockHash": "0x" + "ab" * 32}
    assert chain.block_times([*bare, gone]) == expected


def test_reports_are_pinned_to_their_block_and_batched(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = world.chain
    pairs = [(world.collection, token) for token in world.tokens]
    before = chain.head()
    buyer = Account.create().address
    moved = world.tokens[0]
    chain.sender.transact(chain.collection(world.collection).functions.transferFrom(chain.signer, buyer, moved))

    batches: list[int] = []
    send = chain.w3.provider.make_batch_request  # type: ignore[attr-defined]

    def counted(calls: list[Any]) -> Any:
        batches.append(len(calls))
        return send(calls)

    monkeypatch.setattr(chain.w3.provider, "make_batch_request", counted)
    old = chain.reports_at(pairs, before)
    assert batches == [50, 50, 21]  # a report per twin and the block again, within the batch cap
    now = chain.reports_at(pairs, chain.head())
    assert old is not None and now is not None and len(old) == len(now) == SIZE
    old_twin, new_twin = old[(world.collection, moved)].twin, now[(world.collection, moved)].twin
    assert old_twin is not None and new_twin is not None
    assert (old_twin.owner, new_twin.owner) == (chain.signer, buyer)  # each as of its own block
    assert all(r.brand_id == 1 and r.twin is not None for r in now.values())


def test_reports_of_a_block_reorganised_away_are_refused(world: World) -> None:
    chain = world.chain
    pairs = [(world.collection, world.tokens[-1])]
    chain.sender.transact(chain.collection(world.collection).functions.setStatusByBrand(world.tokens[-1], 2))
    stale = chain.head()
    with ChainConditions(world.anvil.url) as node:
        node.reorg(1)  # the status change's block is replaced: the old head's answers are of another chain
    assert chain.block_hash_at(stale.number) != stale.hash
    assert chain.reports_at(pairs, stale) is None
    current = chain.reports_at(pairs, chain.head())
    assert current is not None and current[pairs[0]].twin is not None
    assert current[pairs[0]].twin.status == 0  # the change went with its block
    chain.sender._nonce = None  # the node forgot the transaction; the next test sends again


# Creation code run by `eth_call` (no `to`): the answer is what it returns.
GAS_LEFT = bytes.fromhex("5a60005260206000f3")  # MSTORE(0, GAS), RETURN(0, 32): the gas left
LOOP = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: spins until the call runs out of gas
REVERT = bytes.fromhex("60006000fd")  # REVERT(0, 0)


def test_calls_of_a_callers_code_are_gas_capped(world: World) -> None:
    chain = world.chain
    for cap in (100_000, 300_000):
        answer = chain.capped_call(None, GAS_LEFT, gas=cap)
        assert answer is not None
        left = int.from_bytes(answer, "big")
        assert cap - 60_000 < left < cap  # the cap reached the node (its own default is 30M)
    started = time.monotonic()
    assert chain.capped_call(None, LOOP, gas=200_000) is None  # out of gas: an answer, not an outage
    assert time.monotonic() - started < 2
    assert chain.capped_call(None, REVERT, gas=100_000) is None
    assert chain.code_at(chain.registry_address) != b""
    assert chain.code_at(Account.create().address) == b""


def test_an_unreachable_node_is_an_outage_not_a_refusal() -> None:
    with Anvil() as node:
        url = node.url
    reader = ChainReader(connect(url, timeout=1), "0x" + "11" * 20)
    with pytest.raises(ChainUnavailable):
        reader.capped_call(None, GAS_LEFT, gas=100_000)
    with pytest.raises(ChainUnavailable):
        reader.head()
