"""Content updates (ERC-4906), service records, virtual-to-physical links, metadata and ERC-165."""

from __future__ import annotations

import pytest

from registry.errors import ContractReverted
from registry.ipfs.cid import DAG_PB, RAW, cid_v1, cid_v1_bytes
from tests.contracts.chain import PHYSICAL, VIRTUAL, Deployment, mint, random_digest

ZERO = "0x" + "00" * 20


def test_brand_replaces_one_twins_content(d: Deployment) -> None:
    first, _ = mint(d, 3)
    digest = random_digest()
    receipt = d.chain.send(d.col_a.functions.updateContent(first + 1, cid_v1_bytes(RAW, digest)), d.minter_a)
    assert d.chain.events(d.col_a, "MetadataUpdate", receipt)[0]["_tokenId"] == first + 1
    assert d.chain.events(d.col_a, "ContentUpdated", receipt)[0]["cid"] == cid_v1_bytes(RAW, digest)
    assert d.col_a.functions.tokenURI(first + 1).call() == f"ipfs://{cid_v1(RAW, digest)}"
    assert d.col_a.functions.tokenURI(first).call().endswith(f"/{first}")  # siblings keep the batch anchor
    # A later update with a dag-pb CID switches the codec back.
    digest2 = random_digest()
    d.chain.send(d.col_a.functions.updateContent(first + 1, cid_v1_bytes(DAG_PB, digest2)), d.minter_a)
    assert d.col_a.functions.tokenURI(first + 1).call() == f"ipfs://{cid_v1(DAG_PB, digest2)}"
    assert d.col_a.functions.ownerOf(first + 1).call() == d.minter_a


@pytest.mark.parametrize(
    "cid",
    [
        b"",
        b"\x01\x55\x12\x20" + b"\x00" * 31,  # truncated digest
        b"\x00\x55\x12\x20" + b"\x11" * 32,  # not CIDv1
        b"\x01\x71\x12\x20" + b"\x11" * 32,  # dag-cbor: not a codec Twinmark anchors
        b"\x01\x55\x13\x20" + b"\x11" * 32,  # sha2-512 code
    ],
)
def test_malformed_cids_are_refused(d: Deployment, cid: bytes) -> None:
    first, _ = mint(d, 1)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidCid"):
        d.chain.send(d.col_a.functions.updateContent(first, cid), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidCid"):
        d.chain.send(d.col_a.functions.recordService(first, cid), d.provider_a)


def test_only_the_brands_minters_update_content(d: Deployment) -> None:
    first, _ = mint(d, 1)
    for sender in (d.minter_b, d.provider_a, d.admin_b):
        with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
            d.chain.send(d.col_a.functions.updateContent(first, cid_v1_bytes(RAW, random_digest())), sender)
    with pytest.raises(ContractReverted, match="ERC721NonexistentToken"):
        d.chain.send(d.col_a.functions.updateContent(first + 5, cid_v1_bytes(RAW, random_digest())), d.minter_a)


def test_only_authorised_providers_add_service_records(d: Deployment) -> None:
    first, _ = mint(d, 1)
    record = cid_v1_bytes(RAW, random_digest())
    receipt = d.chain.send(d.col_a.functions.recordService(first, record), d.provider_a)
    event = d.chain.events(d.col_a, "ServiceRecorded", receipt)[0]
    assert (event["tokenId"], event["provider"], event["recordCid"]) == (first, d.provider_a, record)
    stranger = d.chain.new_account().address
    for sender in (stranger, d.minter_a, d.minter_b):
        with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
            d.chain.send(d.col_a.functions.recordService(first, record), sender)
    # A provider of brand A is nobody in brand B's collection.
    first_b, _ = mint(d, 1, col=d.col_b, minter=d.minter_b)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_b.functions.recordService(first_b, record), d.provider_a)
    # Only the brand admin grants and revokes providers.
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setServiceProvider(stranger, True), d.minter_a)
    d.chain.send(d.col_a.functions.setServiceProvider(d.provider_a, False), d.admin_a)
    assert not d.col_a.functions.isServiceProvider(d.provider_a).call()
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.recordService(first, record), d.provider_a)


def test_service_records_need_a_live_twin(d: Deployment) -> None:
    owner = d.chain.new_account().address
    first, _ = mint(d, 1, custodian=owner)
    d.chain.send(d.col_a.functions.burn(first), owner)
    with pytest.raises(ContractReverted, match="ERC721NonexistentToken"):
        d.chain.send(d.col_a.functions.recordService(first, cid_v1_bytes(RAW, random_digest())), d.provider_a)


def test_virtual_twin_links_to_a_physical_twin_of_the_same_brand(d: Deployment) -> None:
    physical, _ = mint(d, 1, kind=PHYSICAL)
    virtual, _ = mint(d, 1, kind=VIRTUAL)
    receipt = d.chain.send(d.col_a.functions.linkPhysical(virtual, d.col_a.address, physical), d.minter_a)
    assert d.chain.events(d.col_a, "TwinLinked", receipt)[0]["physicalTokenId"] == physical
    assert d.col_a.functions.linkOf(virtual).call() == [d.col_a.address, physical]
    d.chain.send(d.col_a.functions.linkPhysical(virtual, ZERO, 0), d.minter_a)
    assert d.col_a.functions.linkOf(virtual).call() == [ZERO, 0]


def test_invalid_links_are_refused(d: Deployment) -> None:
    physical, _ = mint(d, 1, kind=PHYSICAL)
    virtual, _ = mint(d, 2, kind=VIRTUAL)
    physical_b, _ = mint(d, 1, col=d.col_b, minter=d.minter_b, kind=PHYSICAL)
    cases = [
        (physical, d.col_a.address, physical),  # the source must be virtual
        (virtual, d.col_a.address, virtual + 1),  # the target must be physical
        (virtual, d.col_b.address, physical_b),  # the target must be of the same brand
        (virtual, d.registry.address, physical),  # the target must be a genuine collection
    ]
    for source, collection, target in cases:
        with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidLink"):
            d.chain.send(d.col_a.functions.linkPhysical(source, collection, target), d.minter_a)
    with pytest.raises(ContractReverted, match="ERC721NonexistentToken"):
        d.chain.send(d.col_a.functions.linkPhysical(virtual, d.col_a.address, physical + 1), d.minter_a)
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.linkPhysical(virtual, d.col_a.address, physical), d.minter_b)


def test_links_across_collections_of_one_brand(d: Deployment) -> None:
    receipt = d.chain.send(
        d.registry.functions.createCollection(d.brand_a, "Maison A Wearables", "MSNW", "", ZERO, 0, d.minter_a),
        d.admin_a,
    )
    wearables = d.chain.collection(d.chain.events(d.registry, "CollectionCreated", receipt)[0]["collection"])
    physical, _ = mint(d, 1, kind=PHYSICAL)
    virtual, _ = mint(d, 1, col=wearables, kind=VIRTUAL)
    d.chain.send(wearables.functions.linkPhysical(virtual, d.col_a.address, physical), d.minter_a)
    assert wearables.functions.linkOf(virtual).call() == [d.col_a.address, physical]


def test_royalty_and_collection_metadata(d: Deployment) -> None:
    first, _ = mint(d, 1)
    assert d.col_a.functions.royaltyInfo(first, 10_000).call() == [d.admin_a, 500]
    receiver = d.chain.new_account().address
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setRoyalty(receiver, 250), d.minter_a)
    with pytest.raises(ContractReverted, match="ERC2981InvalidDefaultRoyalty"):
        d.chain.send(d.col_a.functions.setRoyalty(receiver, 10_001), d.admin_a)
    d.chain.send(d.col_a.functions.setRoyalty(receiver, 250), d.admin_a)
    assert d.col_a.functions.royaltyInfo(first, 10_000).call() == [receiver, 250]
    with pytest.raises(ContractReverted, match="TwinmarkCollectionUnauthorized"):
        d.chain.send(d.col_a.functions.setContractURI("ipfs://x"), d.admin_b)
    receipt = d.chain.send(d.col_a.functions.setContractURI("ipfs://bafy-new"), d.admin_a)
    assert len(d.chain.events(d.col_a, "ContractURIUpdated", receipt)) == 1
    assert d.col_a.functions.contractURI().call() == "ipfs://bafy-new"


@pytest.mark.parametrize(
    ("interface_id", "supported"),
    [
        ("0x01ffc9a7", True),  # ERC-165
        ("0x80ac58cd", True),  # ERC-721
        ("0x5b5e139f", True),  # ERC-721 metadata
        ("0x2a55205a", True),  # ERC-2981
        ("0x49064906", True),  # ERC-4906
        ("0x780e9d63", False),  # ERC-721 enumerable: not implemented
        ("0xffffffff", False),  # must be false per ERC-165
    ],
)
def test_supports_interface(d: Deployment, interface_id: str, supported: bool) -> None:
    assert d.col_a.functions.supportsInterface(bytes.fromhex(interface_id[2:])).call() is supported


def test_eip712_domain_is_bound_to_chain_and_collection(d: Deployment) -> None:
    _, name, version, chain_id, contract, _, _ = d.col_a.functions.eip712Domain().call()
    assert (name, version, chain_id, contract) == ("Twinmark", "1", d.chain.chain_id, d.col_a.address)
    assert d.col_b.functions.eip712Domain().call()[4] == d.col_b.address


def _service_sig(
    d: Deployment, signer: object, token: int, cid: bytes, *, nonce: int, deadline: int, contract: str | None = None
) -> bytes:
    from eth_utils.crypto import keccak

    from registry.chain import typed_data

    payload = typed_data.typed_data(
        "ServiceRecord",
        d.chain.chain_id,
        contract or d.col_a.address,
        {"tokenId": token, "recordCidHash": keccak(cid), "nonce": nonce, "deadline": deadline},
    )
    return typed_data.sign(signer, payload)  # type: ignore[arg-type]


def test_providers_sign_service_records_that_anyone_relays(d: Deployment) -> None:
    provider = d.chain.new_account()
    d.chain.send(d.col_a.functions.setServiceProvider(provider.address, True), d.admin_a)
    first, _ = mint(d, 1)
    record = cid_v1_bytes(RAW, random_digest())
    deadline = d.chain.now() + 600
    sig = _service_sig(d, provider, first, record, nonce=0, deadline=deadline)
    relayer = d.chain.new_account().address
    receipt = d.chain.send(
        d.col_a.functions.recordServiceBySig(first, record, provider.address, 0, deadline, sig), relayer
    )
    event = d.chain.events(d.col_a, "ServiceRecorded", receipt)[0]
    assert (event["provider"], event["recordCid"]) == (provider.address, record)
    assert d.col_a.functions.providerNonce(provider.address).call() == 1

    def refused(args: tuple[object, ...], name: str) -> None:
        with pytest.raises(ContractReverted) as err:
            d.chain.send(d.col_a.functions.recordServiceBySig(*args), relayer)
        assert err.value.name == name

    refused((first, record, provider.address, 0, deadline, sig), "TwinmarkCollectionInvalidNonce")  # replay
    sig1 = _service_sig(d, provider, first, record, nonce=1, deadline=d.chain.now() - 1)
    refused((first, record, provider.address, 1, d.chain.now() - 1, sig1), "TwinmarkCollectionExpiredSignature")
    other = cid_v1_bytes(RAW, random_digest())
    sig2 = _service_sig(d, provider, first, record, nonce=1, deadline=deadline)
    refused(
        (first, other, provider.address, 1, deadline, sig2), "TwinmarkCollectionInvalidSignature"
    )  # swapped document
    sig3 = _service_sig(d, provider, first, record, nonce=1, deadline=deadline, contract=d.col_b.address)
    refused(
        (first, record, provider.address, 1, deadline, sig3), "TwinmarkCollectionInvalidSignature"
    )  # other contract
    stranger = d.chain.new_account()
    sig4 = _service_sig(d, stranger, first, record, nonce=0, deadline=deadline)
    refused((first, record, stranger.address, 0, deadline, sig4), "TwinmarkCollectionUnauthorized")  # not a provider
    impostor = _service_sig(d, stranger, first, record, nonce=1, deadline=deadline)
    refused((first, record, provider.address, 1, deadline, impostor), "TwinmarkCollectionInvalidSignature")
