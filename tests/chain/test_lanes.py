"""Signer lanes: a stuck lane takes no new work while the others go on, and heals itself (a nonce gap
filled with an empty transaction); a collection's mints stay on one lane while one is in flight."""

from __future__ import annotations

import time

from eth_account import Account
from web3 import Web3

from registry.chain import artifacts
from registry.chain.client import TwinmarkChain
from registry.chain.deploy import deploy
from registry.chain.lanes import Lanes
from registry.chain.reverts import RevertDecoder
from registry.chain.sender import TxSender

DECODER = RevertDecoder(artifacts.load(n).abi for n in ("TwinmarkRegistry", "TwinmarkCollection"))


def lane(w3: Web3, stuck_seconds: float = 60.0) -> TxSender:
    account = Account.create()
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
    return TxSender(w3, account, DECODER, stuck_seconds=stuck_seconds)


def test_a_stuck_lane_blocks_no_other_and_heals(w3: Web3) -> None:
    signer, gapped = lane(w3), lane(w3, stuck_seconds=0.5)
    chain = TwinmarkChain(w3, signer, deploy(w3, signer)["registry"])
    lanes = Lanes([signer, gapped], max_in_flight=4, is_minter=lambda collection, account: True)
    # The gapped lane's local nonce ran one ahead (a nonce used for nothing): what it sends next is
    # queued at the node behind the missing nonce and never mined by itself.
    with gapped._lock:
        gapped._nonce = w3.eth.get_transaction_count(gapped.account.address) + 1
    queued = gapped.send(chain.registry.functions.registerBrand(gapped.address, "Queued"), gas=300_000)
    lanes.sent(1, "0xC0", queued)
    time.sleep(0.6)
    assert lanes.stuck(1)
    # Nothing new goes to the stuck lane; the collection whose mint waits on it waits with it.
    assert {lanes.free(f"0x{n:02x}") for n in range(8)} == {0}
    assert lanes.free("0xC0") is None
    sent = [signer.send(chain.registry.functions.registerBrand(signer.address, f"Other {n}")) for n in range(3)]
    assert all(signer.wait(h)["status"] == 1 for h in sent)  # the other lane goes on
    # The gapped lane heals itself: tending fills the missing nonce with an empty transaction to
    # itself, and the queued transaction is mined behind it.
    started = time.monotonic()
    while gapped.busy() and time.monotonic() - started < 10:
        gapped.tend()
        time.sleep(0.05)
    healed = time.monotonic() - started
    assert not gapped.busy() and healed < 5, healed
    assert w3.eth.get_transaction_receipt(queued)["blockNumber"] is not None  # type: ignore[arg-type]
    address = gapped.account.address
    assert w3.eth.get_transaction_count(address, "pending") == w3.eth.get_transaction_count(address, "latest")
    assert not lanes.stuck(1) and lanes.free("0xC0") in (0, 1)


def test_a_collection_stays_on_its_lane_while_a_mint_is_in_flight(w3: Web3) -> None:
    signer, other = lane(w3), lane(w3)
    chain = TwinmarkChain(w3, signer, deploy(w3, signer)["registry"])
    lanes = Lanes([signer, other], max_in_flight=1, is_minter=lambda collection, account: True)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        tx_hash = other.send(chain.registry.functions.registerBrand(other.address, "In flight"), gas=300_000)
        lanes.sent(1, "0xAA", tx_hash)
        assert lanes.free("0xAA") is None  # its lane is full: it waits rather than overtake on another
        assert lanes.free("0xBB") == 0  # another collection takes the free lane
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert other.state(tx_hash).receipt is not None  # mined (a revert: only the nonce matters here)
    assert lanes.free("0xAA") in (0, 1)


def test_lanes_held_by_another_process_are_left_alone_and_a_lane_taken_over_asks_the_node(w3: Web3) -> None:
    """With several worker processes each sends only on the lanes it holds (`usable`); a lane handed
    over forgets what this process sent on it and takes its next nonce from the node."""
    signer, other = lane(w3), lane(w3)
    chain = TwinmarkChain(w3, signer, deploy(w3, signer)["registry"])
    lanes = Lanes([signer, other], max_in_flight=4, is_minter=lambda collection, account: True)
    assert {lanes.free(f"0x{n:02x}", usable={1}) for n in range(8)} == {1}
    assert lanes.free("0xAA", usable=set()) is None
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        ours = other.send(chain.registry.functions.registerBrand(other.address, "Ours"), gas=300_000)
        lanes.sent(1, "0xAA", ours)
        assert lanes.free("0xAA", usable={0}) is None  # in flight on a lane this process no longer holds: waits
        # Another process holds lane 1 now and sends with its key; this one lets the lane go.
        elsewhere = TxSender(w3, other.account, DECODER)
        theirs = elsewhere.send(chain.registry.functions.registerBrand(other.address, "Theirs"), gas=300_000)
        lanes.handed_over(1)
        assert not other.busy() and other.local_nonce() is None and not other.knows(ours)
        assert lanes.free("0xAA", usable={0}) == 0  # no longer pinned behind a mint it does not follow
        # Taken back later: the next nonce is the node's, after the other process's transaction.
        again = other.send(chain.registry.functions.registerBrand(other.address, "Again"), gas=300_000)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    nonces = [w3.eth.get_transaction(h)["nonce"] for h in (ours, theirs, again)]  # type: ignore[arg-type]
    assert nonces == [nonces[0], nonces[0] + 1, nonces[0] + 2]
    assert all(w3.eth.get_transaction_receipt(h)["blockNumber"] is not None for h in (ours, theirs, again))  # type: ignore[arg-type]
