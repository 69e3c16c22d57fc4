"""A brand the operator suspended, or whose keys are marked compromised, can do nothing through its
minters (mint, replace content, set status, link) until it is reinstated or the compromise resolved;
owners and service providers keep acting on their twins. The service maps both refusals to stable
client errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from registry.chain.refusals import BrandCompromised, BrandSuspended, refusal
from registry.errors import ContractReverted, Forbidden
from registry.ipfs.cid import RAW, cid_v1_bytes
from tests.contracts.chain import NONE, PHYSICAL, STOLEN, VIRTUAL, Deployment, mint, random_digest, transfer_sig

ZERO = "0x" + "00" * 20


def minter_actions(d: Deployment) -> dict[str, Callable[[], Any]]:
    """Every minter action of collection A, each ready to send once more (state permitting)."""
    physical, _ = mint(d, 2, kind=PHYSICAL)
    virtual, _ = mint(d, 1, kind=VIRTUAL)
    col = d.col_a

    def set_status() -> Any:
        # Marks the twin stolen, or recovered when it is stolen, so the action can be repeated.
        status = NONE if col.functions.twin(physical + 1).call()[3] == STOLEN else STOLEN
        return col.functions.setStatusByBrand(physical + 1, status)

    return {
        "mintBatch": lambda: col.functions.mintBatch(
            col.functions.nextBatchId().call(), d.minter_a, 1, PHYSICAL, random_digest(), b"\x00" * 32
        ),
        "updateContent": lambda: col.functions.updateContent(physical, cid_v1_bytes(RAW, random_digest())),
        "setStatusByBrand": set_status,
        "linkPhysical": lambda: col.functions.linkPhysical(virtual, col.address, physical),
        "unlink": lambda: col.functions.linkPhysical(virtual, ZERO, 0),
    }


def refused_with(d: Deployment, fn: Any, name: str) -> ContractReverted:
    with pytest.raises(ContractReverted) as err:
        d.chain.send(fn, d.minter_a)
    assert err.value.name == name
    assert err.value.error_args == (d.brand_a,)
    return err.value


def test_every_minter_action_is_refused_while_the_brand_is_suspended(d: Deployment) -> None:
    actions = minter_actions(d)
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, True), d.operator)
    assert d.col_a.functions.brand().call()[2] == 1
    for action in actions.values():
        refused_with(d, action(), "TwinmarkCollectionBrandSuspended")
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, False), d.operator)
    for action in actions.values():
        d.chain.send(action(), d.minter_a)


def test_every_minter_action_is_refused_while_the_brand_is_compromised(d: Deployment) -> None:
    actions = minter_actions(d)
    d.chain.send(d.registry.functions.markCompromised(d.brand_a, d.chain.now()), d.operator)
    assert d.col_a.functions.brand().call()[2] == 2
    for action in actions.values():
        refused_with(d, action(), "TwinmarkCollectionBrandCompromised")
    d.chain.send(d.registry.functions.resolveCompromise(d.brand_a), d.operator)
    for action in actions.values():
        d.chain.send(action(), d.minter_a)


def test_suspension_is_reported_first_and_both_must_clear(d: Deployment) -> None:
    actions = minter_actions(d)
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, True), d.operator)
    d.chain.send(d.registry.functions.markCompromised(d.brand_a, d.chain.now()), d.operator)
    for action in actions.values():
        refused_with(d, action(), "TwinmarkCollectionBrandSuspended")
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, False), d.operator)
    for action in actions.values():
        refused_with(d, action(), "TwinmarkCollectionBrandCompromised")
    d.chain.send(d.registry.functions.resolveCompromise(d.brand_a), d.operator)
    for action in actions.values():
        d.chain.send(action(), d.minter_a)


def test_non_minters_are_unauthorized_whatever_the_brand_standing(d: Deployment) -> None:
    token, _ = mint(d, 1)
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, True), d.operator)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.updateContent(token, cid_v1_bytes(RAW, random_digest())), d.minter_b)


def test_other_brands_owners_and_providers_are_unaffected(d: Deployment) -> None:
    owner = d.chain.new_account()
    token, _ = mint(d, 2, custodian=owner.address)
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, True), d.operator)
    d.chain.send(d.registry.functions.markCompromised(d.brand_a, d.chain.now()), d.operator)
    b_token, _ = mint(d, 1, col=d.col_b, minter=d.minter_b)
    d.chain.send(d.col_b.functions.updateContent(b_token, cid_v1_bytes(RAW, random_digest())), d.minter_b)
    to = d.chain.new_account().address
    d.chain.send(d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, owner, to, token)), d.operator)
    d.chain.send(d.col_a.functions.reportStatus(token + 1, STOLEN), owner.address)
    d.chain.send(d.col_a.functions.recordService(token, cid_v1_bytes(RAW, random_digest())), d.provider_a)
    assert d.col_a.functions.ownerOf(token).call() == to


def test_the_service_maps_both_refusals_to_stable_client_errors(d: Deployment) -> None:
    token, _ = mint(d, 1)
    update = d.col_a.functions.updateContent(token, cid_v1_bytes(RAW, random_digest()))
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, True), d.operator)
    suspended = refusal(refused_with(d, update, "TwinmarkCollectionBrandSuspended"))
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, False), d.operator)
    d.chain.send(d.registry.functions.markCompromised(d.brand_a, d.chain.now()), d.operator)
    compromised = refusal(refused_with(d, update, "TwinmarkCollectionBrandCompromised"))
    assert isinstance(suspended, BrandSuspended) and isinstance(compromised, BrandCompromised)
    for error in (suspended, compromised):
        assert isinstance(error, Forbidden) and error.status == 403
    assert (suspended.code, compromised.code) == ("brand-suspended", "brand-compromised")
    assert "suspended" in suspended.detail and "compromised" in compromised.detail
