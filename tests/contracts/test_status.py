"""Lost / stolen / recovered, by the owner (directly or by signature) and by the brand; burn."""

from __future__ import annotations

from typing import Any

import pytest

from registry.chain import typed_data
from registry.errors import ContractReverted
from tests.contracts.chain import LOST, NONE, STOLEN, Deployment, mint

ZERO = "0x" + "00" * 20


@pytest.fixture
def owned(d: Deployment) -> Any:
    owner = d.chain.new_account()
    first, _ = mint(d, 2, custodian=owner.address)
    return owner, first


def status(d: Deployment, token: int) -> int:
    return int(d.col_a.functions.twin(token).call()[3])


def status_sig(
    d: Deployment, signer: Any, token: int, value: int, *, nonce: int | None = None, deadline: int | None = None
) -> tuple[Any, ...]:
    nonce = d.col_a.functions.twin(token).call()[6] if nonce is None else nonce
    deadline = d.chain.now() + 600 if deadline is None else deadline
    payload = typed_data.typed_data(
        "ReportStatus",
        d.chain.chain_id,
        d.col_a.address,
        {"tokenId": token, "status": value, "nonce": nonce, "deadline": deadline},
    )
    return (token, value, nonce, deadline, typed_data.sign(signer, payload))


def test_owner_reports_lost_then_found_then_stolen(d: Deployment, owned: Any) -> None:
    owner, token = owned
    receipt = d.chain.send(d.col_a.functions.reportStatus(token, LOST), owner.address)
    event = d.chain.events(d.col_a, "StatusChanged", receipt)[0]
    assert (event["tokenId"], event["status"], event["by"]) == (token, LOST, owner.address)
    d.chain.send(d.col_a.functions.reportStatus(token, NONE), owner.address)
    assert status(d, token) == NONE
    d.chain.send(d.col_a.functions.reportStatus(token, STOLEN), owner.address)
    assert status(d, token) == STOLEN
    assert d.col_a.functions.ownerOf(token).call() == owner.address  # status never moves the twin


def test_owner_status_rules(d: Deployment, owned: Any) -> None:
    owner, token = owned
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.reportStatus(token, LOST), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidStatusChange"):
        d.chain.send(d.col_a.functions.reportStatus(token, NONE), owner.address)  # nothing to clear
    d.chain.send(d.col_a.functions.reportStatus(token, STOLEN), owner.address)
    for value in (NONE, LOST, STOLEN):  # only the brand clears a theft report
        with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidStatusChange"):
            d.chain.send(d.col_a.functions.reportStatus(token, value), owner.address)


def test_status_report_by_signature(d: Deployment, owned: Any) -> None:
    owner, token = owned
    relayer = d.chain.new_account().address
    good = status_sig(d, owner, token, STOLEN)
    d.chain.send(d.col_a.functions.reportStatusBySig(*good), relayer)
    assert status(d, token) == STOLEN
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidNonce"):
        d.chain.send(d.col_a.functions.reportStatusBySig(*good), relayer)
    other = token + 1
    with pytest.raises(ContractReverted, match="TwinmarkCollectionExpiredSignature"):
        d.chain.send(
            d.col_a.functions.reportStatusBySig(*status_sig(d, owner, other, LOST, deadline=d.chain.now() - 1)), relayer
        )
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidSignature"):
        d.chain.send(d.col_a.functions.reportStatusBySig(*status_sig(d, d.chain.new_account(), other, LOST)), relayer)
    args = list(status_sig(d, owner, other, LOST))
    args[1] = STOLEN  # the signed status cannot be swapped
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidSignature"):
        d.chain.send(d.col_a.functions.reportStatusBySig(*args), relayer)
    assert status(d, other) == NONE


def test_brand_marks_stolen_and_recovered(d: Deployment, owned: Any) -> None:
    owner, token = owned
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setStatusByBrand(token, STOLEN), d.minter_b)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setStatusByBrand(token, STOLEN), owner.address)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidStatusChange"):
        d.chain.send(d.col_a.functions.setStatusByBrand(token, LOST), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidStatusChange"):
        d.chain.send(d.col_a.functions.setStatusByBrand(token, NONE), d.minter_a)
    receipt = d.chain.send(d.col_a.functions.setStatusByBrand(token, STOLEN), d.minter_a)
    assert d.chain.events(d.col_a, "StatusChanged", receipt)[0]["by"] == d.minter_a
    d.chain.send(d.col_a.functions.setStatusByBrand(token, NONE), d.minter_a)
    assert status(d, token) == NONE


def test_status_of_untouched_twins_in_custody(d: Deployment) -> None:
    first, _ = mint(d, 3)
    d.chain.send(d.col_a.functions.setStatusByBrand(first + 1, STOLEN), d.minter_a)
    assert status(d, first + 1) == STOLEN
    assert d.col_a.functions.ownerOf(first + 1).call() == d.minter_a  # owner field materialised
    assert status(d, first) == NONE


def test_burn_destroys_and_leaves_a_record(d: Deployment, owned: Any) -> None:
    owner, token = owned
    stranger = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="ERC721InsufficientApproval"):
        d.chain.send(d.col_a.functions.burn(token), stranger)
    receipt = d.chain.send(d.col_a.functions.burn(token), owner.address)
    event = d.chain.events(d.col_a, "Transfer", receipt)[0]
    assert (event["from"], event["to"], event["tokenId"]) == (owner.address, ZERO, token)
    assert d.col_a.functions.isBurned(token).call()
    assert d.col_a.functions.totalSupply().call() == 1
    assert d.col_a.functions.totalMinted().call() == 2
    assert d.col_a.functions.balanceOf(owner.address).call() == 1
    for fn in (d.col_a.functions.ownerOf(token), d.col_a.functions.tokenURI(token), d.col_a.functions.twin(token)):
        with pytest.raises(ContractReverted, match="ERC721NonexistentToken"):
            d.chain.call(fn)
    with pytest.raises(ContractReverted, match="ERC721NonexistentToken"):
        d.chain.send(d.col_a.functions.burn(token), owner.address)
    # An approved account may burn for the owner.
    d.chain.send(d.col_a.functions.approve(stranger, token + 1), owner.address)
    d.chain.send(d.col_a.functions.burn(token + 1), stranger)
    assert d.col_a.functions.totalSupply().call() == 0
