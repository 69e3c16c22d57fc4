"""Transfer policies per collection (issue 26): open, gift-only after holding periods, locked.

Every path that moves a twin (signed relay, transferFrom and safeTransferFrom by the owner, an
approved account or an operator, claims) is tried one second before and one second after the date
the policy names; the policy itself can only become stricter.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from registry.claims.keys import claim_key, new_secret
from registry.claims.merkle import ClaimTree
from registry.errors import ContractReverted
from tests.contracts.chain import ClaimableBatch, Deployment, claim_args, mint, transfer_sig
from tests.contracts.passkeys import Passkey, create_account, deploy_factory, execute_args

OPEN, GIFT_ONLY, LOCKED = 0, 1, 2
DAY = 86_400
SENDER_HOLD, RECIPIENT_HOLD = 180 * DAY, 730 * DAY
NEVER = 2**256 - 1
ZERO = "0x" + "00" * 20


def _collection(d: Deployment, policy: int, sender: int = 0, recipient: int = 0) -> Contract:
    fn = d.registry.functions.createCollectionWithPolicy(
        d.brand_a, "Gifts", "GIFT", "", d.minter_a, (policy, sender, recipient)
    )
    receipt = d.chain.send(fn, d.admin_a)
    return d.chain.collection(d.chain.events(d.registry, "CollectionCreated", receipt)[0]["collection"])


def _at(d: Deployment, timestamp: int) -> None:
    """Mines a block at `timestamp`: Anvil runs calls and gas estimates, hence the policy's check of
    the next transaction (refused before it is sent), in the latest block's time."""
    d.chain.w3.provider.make_request("evm_mine", [timestamp])  # type: ignore[arg-type]


def _increase(d: Deployment, seconds: int) -> None:
    d.chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    d.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _claimable(d: Deployment, col: Contract, size: int) -> ClaimableBatch:
    """`mint_claimable` for a collection of brand A other than `col_a`."""
    first = col.functions.nextBatchId().call() * 10_000 + 1
    secrets = {first + i: new_secret() for i in range(size)}
    tree = ClaimTree([(t, claim_key(s, d.chain.chain_id, col.address).address) for t, s in secrets.items()])
    mint(d, size, col=col, claim_root=tree.root)
    return ClaimableBatch(first, secrets, tree)


def _claimed(d: Deployment, col: Contract) -> tuple[LocalAccount, int, int]:
    """A buyer claims a twin; returns the buyer, the token and the claim's block time."""
    batch = _claimable(d, col, 2)
    buyer = d.chain.new_account()
    receipt = d.chain.send(col.functions.claim(*claim_args(d, col, batch, batch.first, buyer.address)), buyer.address)
    return buyer, batch.first, int(d.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def _block_time(d: Deployment, receipt: Any) -> int:
    return int(d.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def _authorise(d: Deployment, col: Contract, path: str, owner: LocalAccount, token: int) -> str | None:
    """For the "approved" and "operator" paths, approves a fresh account; returns it."""
    if path not in ("approved", "operator"):
        return None
    spender = d.chain.new_account().address
    if path == "approved":
        d.chain.send(col.functions.approve(spender, token), owner.address)
    else:
        d.chain.send(col.functions.setApprovalForAll(spender, True), owner.address)
    return spender


def _gift(
    d: Deployment, col: Contract, path: str, owner: LocalAccount, to: str, token: int, spender: str | None = None
) -> Any:
    """Gifts `token` from `owner` to `to` through `path` (an approved `spender` for approvals)."""
    if path == "signed":
        return d.chain.send(col.functions.transferBySig(*transfer_sig(d, col, owner, to, token)), d.operator)
    if path == "safeTransferFrom":
        return d.chain.send(col.functions.safeTransferFrom(owner.address, to, token), owner.address)
    return d.chain.send(col.functions.transferFrom(owner.address, to, token), spender or owner.address)


PATHS = ["signed", "transferFrom", "safeTransferFrom", "approved", "operator"]


def test_a_collection_is_created_under_its_policy(d: Deployment) -> None:
    col = _collection(d, GIFT_ONLY, SENDER_HOLD, RECIPIENT_HOLD)
    assert col.functions.transferPolicy().call() == [GIFT_ONLY, SENDER_HOLD, RECIPIENT_HOLD]
    assert d.col_a.functions.transferPolicy().call() == [OPEN, 0, 0]
    # Holding periods belong to GiftOnly alone.
    with pytest.raises(ContractReverted, match="TwinmarkCollectionPolicyNotStricter"):
        _collection(d, LOCKED, SENDER_HOLD, 0)


@pytest.mark.parametrize("path", PATHS)
def test_gift_before_the_sender_hold_is_refused_and_after_it_accepted(d: Deployment, path: str) -> None:
    col = _collection(d, GIFT_ONLY, SENDER_HOLD, RECIPIENT_HOLD)
    buyer, token, claimed_at = _claimed(d, col)
    spender = _authorise(d, col, path, buyer, token)
    giftable = claimed_at + SENDER_HOLD
    assert col.functions.movableFrom(token).call() == giftable
    friend = d.chain.new_account()
    _increase(d, SENDER_HOLD - 10)
    _at(d, giftable - 1)
    with pytest.raises(ContractReverted, match=f"TwinmarkCollectionTransferRestricted\\(10001, {giftable}\\)"):
        _gift(d, col, path, buyer, friend.address, token, spender)
    _at(d, giftable + 1)
    receipt = _gift(d, col, path, buyer, friend.address, token, spender)
    assert col.functions.ownerOf(token).call() == friend.address
    # The recipient's own period now applies, from the gift.
    assert col.functions.movableFrom(token).call() == _block_time(d, receipt) + RECIPIENT_HOLD


def test_operator_and_approved_spender_follow_the_owners_dates(d: Deployment) -> None:
    col = _collection(d, GIFT_ONLY, SENDER_HOLD, RECIPIENT_HOLD)
    buyer, token, claimed_at = _claimed(d, col)
    operator, spender, friend = (d.chain.new_account().address for _ in range(3))
    d.chain.send(col.functions.setApprovalForAll(operator, True), buyer.address)
    d.chain.send(col.functions.approve(spender, token), buyer.address)
    _increase(d, SENDER_HOLD - 10)
    _at(d, claimed_at + SENDER_HOLD - 1)
    for who in (operator, spender):
        with pytest.raises(ContractReverted, match="TwinmarkCollectionTransferRestricted"):
            d.chain.send(col.functions.transferFrom(buyer.address, friend, token), who)
    _at(d, claimed_at + SENDER_HOLD + 1)
    d.chain.send(col.functions.transferFrom(buyer.address, friend, token), spender)
    assert col.functions.ownerOf(token).call() == friend


def test_the_recipients_period_applies_to_the_next_gift(d: Deployment) -> None:
    col = _collection(d, GIFT_ONLY, SENDER_HOLD, RECIPIENT_HOLD)
    buyer, token, _ = _claimed(d, col)
    friend, third = d.chain.new_account(), d.chain.new_account()
    _increase(d, SENDER_HOLD + 10)
    receipt = _gift(d, col, "signed", buyer, friend.address, token)
    gifted_at = _block_time(d, receipt)
    # The sender's (shorter) period is not enough for the recipient.
    _increase(d, SENDER_HOLD + 10)
    with pytest.raises(ContractReverted, match=f"TwinmarkCollectionTransferRestricted.*{gifted_at + RECIPIENT_HOLD}"):
        _gift(d, col, "signed", friend, third.address, token)
    _increase(d, RECIPIENT_HOLD - SENDER_HOLD - 100)
    _at(d, gifted_at + RECIPIENT_HOLD - 1)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionTransferRestricted"):
        _gift(d, col, "transferFrom", friend, third.address, token)
    _at(d, gifted_at + RECIPIENT_HOLD + 1)
    _gift(d, col, "transferFrom", friend, third.address, token)
    assert col.functions.ownerOf(token).call() == third.address


def test_the_brands_first_delivery_is_not_a_gift(d: Deployment) -> None:
    col = _collection(d, GIFT_ONLY, SENDER_HOLD, RECIPIENT_HOLD)
    first, _ = mint(d, 2, col=col)  # held by the minter as custodian, not claimable
    buyer, friend = d.chain.new_account(), d.chain.new_account()
    assert col.functions.movableFrom(first).call() == 0
    receipt = d.chain.send(col.functions.transferFrom(d.minter_a, buyer.address, first), d.minter_a)
    delivered_at = _block_time(d, receipt)
    # The first buyer holds it for the sender's period, like a claimant.
    assert col.functions.movableFrom(first).call() == delivered_at + SENDER_HOLD
    with pytest.raises(ContractReverted, match="TwinmarkCollectionTransferRestricted"):
        _gift(d, col, "transferFrom", buyer, friend.address, first)
    # A twin gifted back to the custodian is the custodian's gift like any other.
    _increase(d, SENDER_HOLD + 10)
    _gift(d, col, "transferFrom", buyer, d.minter_a, first)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionTransferRestricted"):
        d.chain.send(col.functions.transferFrom(d.minter_a, friend.address, first), d.minter_a)


def test_locked_refuses_every_transfer_but_claims(d: Deployment) -> None:
    col = _collection(d, LOCKED)
    buyer, token, _ = _claimed(d, col)  # the claim itself passes
    assert col.functions.ownerOf(token).call() == buyer.address
    assert col.functions.movableFrom(token).call() == NEVER
    friend = d.chain.new_account().address
    _increase(d, 10 * 365 * DAY)
    for path in ("signed", "transferFrom", "safeTransferFrom"):
        with pytest.raises(ContractReverted, match="TwinmarkCollectionTransferRestricted"):
            _gift(d, col, path, buyer, friend, token)
    # Approvals are refused (they could never be used, and would only let a listing exist).
    with pytest.raises(ContractReverted, match="TwinmarkCollectionApprovalsLocked"):
        d.chain.send(col.functions.approve(friend, token), buyer.address)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionApprovalsLocked"):
        d.chain.send(col.functions.setApprovalForAll(friend, True), buyer.address)
    d.chain.send(col.functions.setApprovalForAll(friend, False), buyer.address)  # revoking stays possible
    d.chain.send(col.functions.approve(ZERO, token), buyer.address)
    # The custodian cannot hand out unclaimed twins either: claims only.
    first, _ = mint(d, 1, col=col)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionTransferRestricted"):
        d.chain.send(col.functions.transferFrom(d.minter_a, friend, first), d.minter_a)
    # Burning is not a transfer: the owner may still destroy its twin.
    d.chain.send(col.functions.burn(token), buyer.address)
    assert col.functions.isBurned(token).call()


def test_policy_becomes_stricter_only(d: Deployment) -> None:
    col = d.col_a  # created open
    buyer, token, claimed_at = _claimed(d, col)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(col.functions.setTransferPolicy(GIFT_ONLY, DAY, DAY), d.minter_a)
    d.chain.send(col.functions.setTransferPolicy(GIFT_ONLY, DAY, DAY), d.admin_a)
    # Already-held twins fall under the new periods, counted from when their owner got them.
    assert col.functions.movableFrom(token).call() == claimed_at + DAY
    for policy, sender, recipient in [(OPEN, 0, 0), (GIFT_ONLY, DAY - 1, DAY), (GIFT_ONLY, DAY, 0)]:
        with pytest.raises(ContractReverted, match="TwinmarkCollectionPolicyNotStricter"):
            d.chain.send(col.functions.setTransferPolicy(policy, sender, recipient), d.admin_a)
    d.chain.send(col.functions.setTransferPolicy(GIFT_ONLY, 2 * DAY, 3 * DAY), d.admin_a)
    d.chain.send(col.functions.setTransferPolicy(LOCKED, 0, 0), d.admin_a)
    for policy, sender, recipient in [(OPEN, 0, 0), (GIFT_ONLY, 9 * DAY, 9 * DAY), (LOCKED, 0, 0)]:
        with pytest.raises(ContractReverted, match="TwinmarkCollectionPolicyNotStricter"):
            d.chain.send(col.functions.setTransferPolicy(policy, sender, recipient), d.admin_a)
    assert col.functions.transferPolicy().call() == [LOCKED, 0, 0]
    with pytest.raises(ContractReverted, match="TwinmarkCollectionTransferRestricted"):
        _gift(d, col, "transferFrom", buyer, d.chain.new_account().address, token)


def test_open_collection_moves_at_once(d: Deployment) -> None:
    buyer, token, _ = _claimed(d, d.col_a)
    assert d.col_a.functions.movableFrom(token).call() == 0
    _gift(d, d.col_a, "signed", buyer, d.chain.new_account().address, token)


def test_a_passkey_account_is_held_to_the_same_dates(d: Deployment) -> None:
    """The passkey owner account moves twins with `transferFrom` from itself (executeBySig): the
    collection's check is the same, whoever the caller."""
    factory = deploy_factory(d.chain, d.operator)
    verifier = factory.functions.verifier().call()
    key = Passkey()
    address = factory.functions.predict(key.qx, key.qy).call()
    col = _collection(d, GIFT_ONLY, SENDER_HOLD, RECIPIENT_HOLD)
    batch = _claimable(d, col, 1)
    receipt = d.chain.send(col.functions.claim(*claim_args(d, col, batch, batch.first, address)), d.operator)
    giftable = _block_time(d, receipt) + SENDER_HOLD
    account = create_account(d.chain, factory, key, d.operator)
    to = d.chain.new_account().address
    data = col.functions.transferFrom(address, to, batch.first)._encode_transaction_data()
    call = (col.address, 0, bytes.fromhex(data.removeprefix("0x")))
    _increase(d, SENDER_HOLD - 10)
    _at(d, giftable - 1)
    with pytest.raises(ContractReverted, match=f"TwinmarkCollectionTransferRestricted.*{giftable}"):
        d.chain.send(account.functions.executeBySig(*execute_args(d.chain, account, verifier, key, [call])), d.operator)
    _at(d, giftable + 1)
    d.chain.send(account.functions.executeBySig(*execute_args(d.chain, account, verifier, key, [call])), d.operator)
    assert col.functions.ownerOf(batch.first).call() == to
