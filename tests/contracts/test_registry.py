"""The registry: brands, genuine collections (EIP-1167 clones), suspension, compromise windows."""

from __future__ import annotations

import pytest

from registry.chain import artifacts
from registry.errors import ContractReverted
from tests.contracts.chain import Deployment, mint

ZERO = "0x" + "00" * 20


def test_brands_and_collections_are_recorded(d: Deployment) -> None:
    reg = d.registry
    assert reg.functions.brandCount().call() == 2
    admin, registered_at, suspended, name = reg.functions.brand(d.brand_a).call()
    assert (admin, suspended, name) == (d.admin_a, False, "Maison A")
    assert registered_at > 0
    assert reg.functions.collectionsOf(d.brand_a).call() == [d.col_a.address]
    assert reg.functions.brandOf(d.col_b.address).call() == d.brand_b
    assert reg.functions.isGenuine(d.col_a.address).call()
    assert not reg.functions.isGenuine(d.operator).call()
    assert d.col_a.functions.brand().call() == [reg.address, d.brand_a, 0]
    assert (d.col_a.functions.name().call(), d.col_a.functions.symbol().call()) == ("Maison A", "MSNA")
    assert d.col_a.functions.contractURI().call() == "ipfs://contract-MSNA"
    assert d.col_a.functions.isMinter(d.minter_a).call()
    # The clone is a 45-byte EIP-1167 proxy delegating to the shared implementation.
    code = bytes(d.chain.w3.eth.get_code(d.col_a.address))
    impl = reg.functions.collectionImplementation().call()
    assert len(code) == 45 and bytes.fromhex(impl[2:].lower()) in code


def test_only_the_operator_registers_brands(d: Deployment) -> None:
    stranger = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="OwnableUnauthorizedAccount"):
        d.chain.send(d.registry.functions.registerBrand(stranger, "Fake"), d.admin_a)
    with pytest.raises(ContractReverted, match="TwinmarkRegistryInvalidAdmin"):
        d.chain.send(d.registry.functions.registerBrand(ZERO, "Nobody"), d.operator)
    receipt = d.chain.send(d.registry.functions.registerBrand(stranger, "Maison C"), d.operator)
    event = d.chain.events(d.registry, "BrandRegistered", receipt)[0]
    assert (event["brandId"], event["admin"], event["name"]) == (3, stranger, "Maison C")


def test_collections_are_created_by_the_operator_or_the_brands_own_admin(d: Deployment) -> None:
    def create(brand: int, sender: str) -> None:
        fn = d.registry.functions.createCollection(brand, "X", "X", "", ZERO, 0, ZERO)
        d.chain.send(fn, sender)

    with pytest.raises(ContractReverted, match="TwinmarkRegistryUnauthorized"):
        create(d.brand_a, d.admin_b)
    with pytest.raises(ContractReverted, match="TwinmarkRegistryUnauthorized"):
        create(d.brand_a, d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkRegistryUnknownBrand"):
        create(9, d.operator)
    create(d.brand_a, d.operator)
    create(d.brand_a, d.admin_a)
    assert len(d.registry.functions.collectionsOf(d.brand_a).call()) == 3


def test_collections_per_brand_are_bounded(d: Deployment) -> None:
    for _ in range(31):
        d.chain.send(d.registry.functions.createCollection(d.brand_b, "X", "X", "", ZERO, 0, ZERO), d.admin_b)
    with pytest.raises(ContractReverted, match="TwinmarkRegistryTooManyCollections"):
        d.chain.send(d.registry.functions.createCollection(d.brand_b, "X", "X", "", ZERO, 0, ZERO), d.admin_b)


def test_clones_and_implementation_cannot_be_initialized_again(d: Deployment) -> None:
    args = (1, "n", "s", "", ZERO, 0, d.admin_b)
    with pytest.raises(ContractReverted, match="InvalidInitialization"):
        d.chain.send(d.col_a.functions.initialize(*args), d.admin_b)
    impl = d.chain.collection(d.registry.functions.collectionImplementation().call())
    with pytest.raises(ContractReverted, match="InvalidInitialization"):
        d.chain.send(impl.functions.initialize(*args), d.admin_b)


def test_only_the_registry_sets_brand_flags(d: Deployment) -> None:
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setBrandFlags(0), d.operator)


def test_a_suspended_brand_cannot_mint_until_reinstated(d: Deployment) -> None:
    with pytest.raises(ContractReverted, match="OwnableUnauthorizedAccount"):
        d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, True), d.admin_a)
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, True), d.operator)
    assert d.registry.functions.brand(d.brand_a).call()[2] is True
    with pytest.raises(ContractReverted, match="TwinmarkCollectionBrandSuspended"):
        mint(d, 1)
    mint(d, 1, col=d.col_b, minter=d.minter_b)  # other brands are unaffected
    # A collection created while suspended starts suspended too.
    receipt = d.chain.send(
        d.registry.functions.createCollection(d.brand_a, "Y", "Y", "", ZERO, 0, d.minter_a), d.admin_a
    )
    fresh = d.chain.collection(d.chain.events(d.registry, "CollectionCreated", receipt)[0]["collection"])
    with pytest.raises(ContractReverted, match="TwinmarkCollectionBrandSuspended"):
        mint(d, 1, col=fresh)
    d.chain.send(d.registry.functions.setBrandSuspended(d.brand_a, False), d.operator)
    mint(d, 1)
    mint(d, 1, col=fresh)


def test_compromise_windows(d: Deployment) -> None:
    reg, chain = d.registry, d.chain
    mint(d, 1)
    before = chain.now()
    with pytest.raises(ContractReverted, match="TwinmarkRegistryInvalidCompromiseStart"):
        chain.send(reg.functions.markCompromised(d.brand_a, before + 1000), d.operator)
    with pytest.raises(ContractReverted, match="OwnableUnauthorizedAccount"):
        chain.send(reg.functions.markCompromised(d.brand_a, before), d.admin_a)
    with pytest.raises(ContractReverted, match="TwinmarkRegistryNoOpenCompromise"):
        chain.send(reg.functions.resolveCompromise(d.brand_a), d.operator)
    chain.send(reg.functions.markCompromised(d.brand_a, before), d.operator)
    with pytest.raises(ContractReverted, match="TwinmarkRegistryCompromiseOpen"):
        chain.send(reg.functions.markCompromised(d.brand_a, before), d.operator)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionBrandCompromised"):
        mint(d, 1)
    chain.w3.provider.make_request("evm_increaseTime", [100])  # type: ignore[arg-type]
    receipt = chain.send(reg.functions.resolveCompromise(d.brand_a), d.operator)
    end = chain.events(reg, "BrandCompromiseResolved", receipt)[0]["end"]
    assert reg.functions.compromiseWindows(d.brand_a).call() == [(before, end)]
    assert not reg.functions.isCompromisedAt(d.brand_a, before - 1).call()
    assert reg.functions.isCompromisedAt(d.brand_a, before).call()
    assert reg.functions.isCompromisedAt(d.brand_a, end - 1).call()
    assert not reg.functions.isCompromisedAt(d.brand_a, end).call()
    assert not reg.functions.isCompromisedAt(d.brand_b, before).call()
    mint(d, 1)  # new keys in place: minting resumes


def test_brand_admin_handover(d: Deployment) -> None:
    new_admin = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="TwinmarkRegistryUnauthorized"):
        d.chain.send(d.registry.functions.setBrandAdmin(d.brand_a, new_admin), d.admin_b)
    with pytest.raises(ContractReverted, match="TwinmarkRegistryInvalidAdmin"):
        d.chain.send(d.registry.functions.setBrandAdmin(d.brand_a, ZERO), d.admin_a)
    d.chain.send(d.registry.functions.setBrandAdmin(d.brand_a, new_admin), d.admin_a)
    assert d.registry.functions.brandAdmin(d.brand_a).call() == new_admin
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setMinter(new_admin, True), d.admin_a)
    d.chain.send(d.col_a.functions.setMinter(new_admin, True), new_admin)
    # The operator can recover a brand whose admin key is lost.
    d.chain.send(d.registry.functions.setBrandAdmin(d.brand_a, d.admin_a), d.operator)
    assert d.registry.functions.brandAdmin(d.brand_a).call() == d.admin_a


def test_operator_role_moves_in_two_steps(d: Deployment) -> None:
    successor = d.chain.new_account().address
    d.chain.send(d.registry.functions.transferOwnership(successor), d.operator)
    assert d.registry.functions.owner().call() == d.operator
    d.chain.send(d.registry.functions.acceptOwnership(), successor)
    assert d.registry.functions.owner().call() == successor
    with pytest.raises(ContractReverted, match="OwnableUnauthorizedAccount"):
        d.chain.send(d.registry.functions.registerBrand(successor, "X"), d.operator)


def test_unknown_brand_views_revert(d: Deployment) -> None:
    with pytest.raises(ContractReverted, match="TwinmarkRegistryUnknownBrand"):
        d.chain.call(d.registry.functions.brand(0))
    assert artifacts.load("TwinmarkRegistry").name == "TwinmarkRegistry"
