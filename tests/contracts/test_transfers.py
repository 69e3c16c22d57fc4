"""Plain ERC-721 transfers and approvals, and gasless EIP-712 transfers (EOA and ERC-1271)."""

from __future__ import annotations

import pytest

from registry.errors import ContractReverted
from tests.contracts.chain import STOLEN, Deployment, hardhat_artifact, mint, transfer_sig

ZERO = "0x" + "00" * 20


@pytest.fixture
def owned(d: Deployment):  # type: ignore[no-untyped-def]
    owner = d.chain.new_account()
    first, _ = mint(d, 3, custodian=owner.address)
    return owner, first


def test_owner_transfers_and_balances_follow(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    to = d.chain.new_account().address
    receipt = d.chain.send(d.col_a.functions.transferFrom(owner.address, to, token), owner.address)
    assert d.chain.events(d.col_a, "Transfer", receipt)[0]["to"] == to
    assert d.col_a.functions.ownerOf(token).call() == to
    assert d.col_a.functions.ownerOf(token + 1).call() == owner.address  # siblings stay put
    assert d.col_a.functions.balanceOf(owner.address).call() == 2
    assert d.col_a.functions.balanceOf(to).call() == 1
    assert d.col_a.functions.twin(token).call()[6] == 1  # nonce bumped


def test_non_owner_cannot_transfer(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    thief = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="ERC721InsufficientApproval"):
        d.chain.send(d.col_a.functions.transferFrom(owner.address, thief, token), thief)
    with pytest.raises(ContractReverted, match="ERC721IncorrectOwner"):
        d.chain.send(d.col_a.functions.transferFrom(thief, thief, token), thief)
    with pytest.raises(ContractReverted, match="ERC721InvalidReceiver"):
        d.chain.send(d.col_a.functions.transferFrom(owner.address, ZERO, token), owner.address)
    # The brand (minter, admin) cannot move a twin it no longer holds either.
    with pytest.raises(ContractReverted, match="ERC721InsufficientApproval"):
        d.chain.send(d.col_a.functions.transferFrom(owner.address, thief, token), d.minter_a)
    assert d.col_a.functions.ownerOf(token).call() == owner.address


def test_single_approval_is_used_once(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    spender = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="ERC721InvalidApprover"):
        d.chain.send(d.col_a.functions.approve(spender, token), spender)
    d.chain.send(d.col_a.functions.approve(spender, token), owner.address)
    assert d.col_a.functions.getApproved(token).call() == spender
    d.chain.send(d.col_a.functions.transferFrom(owner.address, spender, token), spender)
    assert d.col_a.functions.getApproved(token).call() == ZERO
    d.chain.send(d.col_a.functions.transferFrom(spender, owner.address, token), spender)
    with pytest.raises(ContractReverted, match="ERC721InsufficientApproval"):
        d.chain.send(d.col_a.functions.transferFrom(owner.address, spender, token), spender)


def test_operator_approval(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    operator = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="ERC721InvalidOperator"):
        d.chain.send(d.col_a.functions.setApprovalForAll(ZERO, True), owner.address)
    d.chain.send(d.col_a.functions.setApprovalForAll(operator, True), owner.address)
    assert d.col_a.functions.isApprovedForAll(owner.address, operator).call()
    d.chain.send(d.col_a.functions.approve(operator, token + 1), operator)  # operators may approve
    d.chain.send(d.col_a.functions.transferFrom(owner.address, operator, token), operator)
    d.chain.send(d.col_a.functions.setApprovalForAll(operator, False), owner.address)
    with pytest.raises(ContractReverted, match="ERC721InsufficientApproval"):
        d.chain.send(d.col_a.functions.transferFrom(owner.address, operator, token + 2), operator)


def test_safe_transfer_checks_the_receiver(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    with pytest.raises(ContractReverted, match="ERC721InvalidReceiver"):
        d.chain.send(d.col_a.functions.safeTransferFrom(owner.address, d.registry.address, token), owner.address)
    wallet = d.chain.deploy(
        hardhat_artifact("test/TestContractWallet.sol", "TestContractWallet"), d.operator, owner.address
    )
    d.chain.send(d.col_a.functions.safeTransferFrom(owner.address, wallet.address, token), owner.address)
    assert d.col_a.functions.ownerOf(token).call() == wallet.address


def test_signed_transfer_relayed_by_anyone(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    to = d.chain.new_account().address
    relayer = d.chain.new_account().address
    d.chain.send(d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, owner, to, token)), relayer)
    assert d.col_a.functions.ownerOf(token).call() == to


def test_signed_transfer_refusals(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    to = d.chain.new_account().address
    relay = d.operator
    col = d.col_a

    def attempt(args: tuple, name: str) -> None:  # type: ignore[type-arg]
        with pytest.raises(ContractReverted) as err:
            d.chain.send(col.functions.transferBySig(*args), relay)
        assert err.value.name == name

    attempt(transfer_sig(d, col, owner, to, token, deadline=d.chain.now() - 1), "TwinmarkCollectionExpiredSignature")
    attempt(transfer_sig(d, col, owner, to, token, chain_id=1), "TwinmarkCollectionInvalidSignature")
    attempt(transfer_sig(d, col, owner, to, token, contract=d.col_b.address), "TwinmarkCollectionInvalidSignature")
    attempt(transfer_sig(d, col, owner, to, token, nonce=5), "TwinmarkCollectionInvalidNonce")
    attempt(transfer_sig(d, col, d.chain.new_account(), to, token), "TwinmarkCollectionInvalidSignature")
    # A valid signature for one recipient cannot be redirected to another.
    args = list(transfer_sig(d, col, owner, to, token))
    args[0] = relay
    attempt(tuple(args), "TwinmarkCollectionInvalidSignature")
    # The genuine one works once; its replay fails on the consumed nonce.
    good = transfer_sig(d, col, owner, to, token)
    d.chain.send(col.functions.transferBySig(*good), relay)
    attempt(good, "TwinmarkCollectionInvalidNonce")
    assert col.functions.ownerOf(token).call() == to


def test_signed_transfer_from_an_erc1271_contract_wallet(d: Deployment) -> None:
    signer = d.chain.new_account()
    wallet = d.chain.deploy(
        hardhat_artifact("test/TestContractWallet.sol", "TestContractWallet"), d.operator, signer.address
    )
    first, _ = mint(d, 1, custodian=wallet.address)
    to = d.chain.new_account().address
    impostor = d.chain.new_account()
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidSignature"):
        d.chain.send(d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, impostor, to, first)), d.operator)
    d.chain.send(d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, signer, to, first)), d.operator)
    assert d.col_a.functions.ownerOf(first).call() == to


def test_signed_transfer_into_a_contract_checks_the_receiver(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    with pytest.raises(ContractReverted, match="ERC721InvalidReceiver"):
        d.chain.send(
            d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, owner, d.registry.address, token)),
            d.operator,
        )


def test_a_stolen_twin_cannot_move(d: Deployment, owned) -> None:  # type: ignore[no-untyped-def]
    owner, token = owned
    to = d.chain.new_account().address
    d.chain.send(d.col_a.functions.setStatusByBrand(token, STOLEN), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkERC721TwinStolen"):
        d.chain.send(d.col_a.functions.transferFrom(owner.address, to, token), owner.address)
    with pytest.raises(ContractReverted, match="TwinmarkERC721TwinStolen"):
        d.chain.send(d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, owner, to, token)), d.operator)
    with pytest.raises(ContractReverted, match="TwinmarkERC721TwinStolen"):
        d.chain.send(d.col_a.functions.burn(token), owner.address)
    d.chain.send(d.col_a.functions.setStatusByBrand(token, 0), d.minter_a)  # recovered
    d.chain.send(d.col_a.functions.transferFrom(owner.address, to, token), owner.address)
    assert d.col_a.functions.ownerOf(token).call() == to
