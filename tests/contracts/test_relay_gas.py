"""A relayer's gas is bounded: contract wallets (ERC-1271 signers, ERC-721 receivers) asked during a
relayed call get fixed gas stipends, so a wallet that burns all the gas it is given cannot make the
relayer pay for the whole transaction gas limit."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from registry.chain import typed_data
from registry.errors import ContractReverted
from registry.ipfs.cid import RAW, cid_v1_bytes
from tests.contracts.chain import LOST, Deployment, hardhat_artifact, mint, random_digest, transfer_sig
from tests.contracts.passkeys import Passkey, create_account, deploy_factory, erc1271_signature, transfer_digest

ERC1271_STIPEND, RECEIVER_STIPEND = 100_000, 50_000
TX_GAS = 5_000_000  # what a relayer that trusted the caller's estimate might send
BOUND = 200_000  # what a refused relayed call may cost at most (the burners would take ~5M without stipends)
BURN_ALL = 2**256 - 1


def burner(d: Deployment, signer: str, burn: int = BURN_ALL) -> Contract:
    """A wallet that burns `burn` gas (all it is given by default) before every answer."""
    return d.chain.deploy(hardhat_artifact("test/TestGasBurner.sol", "TestGasBurner"), d.operator, signer, burn)


def contract_wallet(d: Deployment, signer: str) -> Contract:
    return d.chain.deploy(hardhat_artifact("test/TestContractWallet.sol", "TestContractWallet"), d.operator, signer)


def relay(d: Deployment, fn: Any, relayer: str) -> tuple[TxReceipt, ContractReverted | None]:
    """Sends `fn` with a TX_GAS gas limit and no estimate, as a relayer would if the estimate were
    gamed; returns the mined receipt and, if it reverted, the custom error (from a call beforehand)."""
    error = None
    try:
        fn.call({"from": relayer, "gas": TX_GAS})
    except (ContractCustomError, ContractLogicError) as exc:
        error = d.chain.decoder.decode(exc.data)
    receipt = d.chain.w3.eth.wait_for_transaction_receipt(fn.transact({"from": relayer, "gas": TX_GAS}))
    assert (receipt["status"] == 1) == (error is None), receipt
    return receipt, error


def status_sig(d: Deployment, signer: LocalAccount, token: int, status: int) -> tuple[Any, ...]:
    nonce = d.col_a.functions.twin(token).call()[6]
    deadline = d.chain.now() + 3600
    payload = typed_data.typed_data(
        "ReportStatus",
        d.chain.chain_id,
        d.col_a.address,
        {"tokenId": token, "status": status, "nonce": nonce, "deadline": deadline},
    )
    return (token, status, nonce, deadline, typed_data.sign(signer, payload))


def service_sig(d: Deployment, signer: LocalAccount, provider: str, token: int) -> tuple[Any, ...]:
    record = cid_v1_bytes(RAW, random_digest())
    nonce = d.col_a.functions.providerNonce(provider).call()
    deadline = d.chain.now() + 3600
    message = {"tokenId": token, "recordCidHash": keccak(record), "nonce": nonce, "deadline": deadline}
    sig = typed_data.sign(signer, typed_data.typed_data("ServiceRecord", d.chain.chain_id, d.col_a.address, message))
    return (token, record, provider, nonce, deadline, sig)


def test_stipends_are_published(d: Deployment) -> None:
    assert d.col_a.functions.ERC1271_GAS_STIPEND().call() == ERC1271_STIPEND
    assert d.col_a.functions.RECEIVER_GAS_STIPEND().call() == RECEIVER_STIPEND


def test_gas_burning_wallet_owner_cannot_drain_the_relayer_with_transfer_by_sig(d: Deployment) -> None:
    signer = d.chain.new_account()
    wallet = burner(d, signer.address)
    token, _ = mint(d, 1, custodian=wallet.address)
    to = d.chain.new_account().address
    # A signature the wallet would accept, had it not burned the gas first.
    receipt, error = relay(d, d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, signer, to, token)), d.operator)
    assert error is not None and error.name == "TwinmarkCollectionInvalidSignature"
    assert receipt["gasUsed"] < BOUND, receipt["gasUsed"]
    assert d.col_a.functions.ownerOf(token).call() == wallet.address
    assert d.col_a.functions.twin(token).call()[6] == 0  # nonce untouched


def test_gas_burning_wallet_owner_cannot_drain_the_relayer_with_report_status_by_sig(d: Deployment) -> None:
    signer = d.chain.new_account()
    wallet = burner(d, signer.address)
    token, _ = mint(d, 1, custodian=wallet.address)
    receipt, error = relay(d, d.col_a.functions.reportStatusBySig(*status_sig(d, signer, token, LOST)), d.operator)
    assert error is not None and error.name == "TwinmarkCollectionInvalidSignature"
    assert receipt["gasUsed"] < BOUND, receipt["gasUsed"]
    assert d.col_a.functions.twin(token).call()[3] == 0  # status unchanged


def test_gas_burning_wallet_provider_cannot_drain_the_relayer_with_record_service_by_sig(d: Deployment) -> None:
    signer = d.chain.new_account()
    wallet = burner(d, signer.address)
    d.chain.send(d.col_a.functions.setServiceProvider(wallet.address, True), d.admin_a)
    token, _ = mint(d, 1)
    args = service_sig(d, signer, wallet.address, token)
    receipt, error = relay(d, d.col_a.functions.recordServiceBySig(*args), d.operator)
    assert error is not None and error.name == "TwinmarkCollectionInvalidSignature"
    assert receipt["gasUsed"] < BOUND, receipt["gasUsed"]
    assert d.col_a.functions.providerNonce(wallet.address).call() == 0


def test_gas_burning_receiver_cannot_drain_the_relayer_with_transfer_by_sig(d: Deployment) -> None:
    owner = d.chain.new_account()
    token, _ = mint(d, 1, custodian=owner.address)
    sink = burner(d, owner.address)
    args = transfer_sig(d, d.col_a, owner, sink.address, token)
    receipt, error = relay(d, d.col_a.functions.transferBySig(*args), d.operator)
    assert error is not None and error.name == "ERC721InvalidReceiver" and error.error_args == (sink.address,)
    assert receipt["gasUsed"] < BOUND, receipt["gasUsed"]
    assert d.col_a.functions.ownerOf(token).call() == owner.address


def test_wallets_within_their_stipends_work_and_the_relayer_pays_at_most_the_stipends(d: Deployment) -> None:
    signer = d.chain.new_account()
    # Greedy but valid: spends most of each stipend, then answers correctly.
    greedy_owner = burner(d, signer.address, ERC1271_STIPEND - 10_000)
    greedy_receiver = burner(d, signer.address, RECEIVER_STIPEND - 10_000)
    token, _ = mint(d, 1, custodian=greedy_owner.address)
    args = transfer_sig(d, d.col_a, signer, greedy_receiver.address, token)
    receipt, error = relay(d, d.col_a.functions.transferBySig(*args), d.operator)
    assert error is None and d.col_a.functions.ownerOf(token).call() == greedy_receiver.address
    # A signed transfer costs under 80,000 gas; the wallets add at most their two stipends.
    assert receipt["gasUsed"] < 80_000 + ERC1271_STIPEND + RECEIVER_STIPEND, receipt["gasUsed"]


def test_wallets_needing_more_than_their_stipends_are_refused(d: Deployment) -> None:
    signer = d.chain.new_account()
    owner = burner(d, signer.address, ERC1271_STIPEND + 1_000)
    token, _ = mint(d, 1, custodian=owner.address)
    to = d.chain.new_account().address
    _, error = relay(d, d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, signer, to, token)), d.operator)
    assert error is not None and error.name == "TwinmarkCollectionInvalidSignature"
    eoa = d.chain.new_account()
    token, _ = mint(d, 1, custodian=eoa.address)
    receiver = burner(d, eoa.address, RECEIVER_STIPEND + 1_000)
    args = transfer_sig(d, d.col_a, eoa, receiver.address, token)
    _, error = relay(d, d.col_a.functions.transferBySig(*args), d.operator)
    assert error is not None and error.name == "ERC721InvalidReceiver"


def test_well_behaved_contract_wallets_work_through_the_relayer(d: Deployment) -> None:
    signer, other_signer = d.chain.new_account(), d.chain.new_account()
    wallet, other = contract_wallet(d, signer.address), contract_wallet(d, other_signer.address)
    token, _ = mint(d, 1, custodian=wallet.address)
    # Wallet to wallet: the owner's ERC-1271 check and the recipient's hook both fit their stipends.
    args = transfer_sig(d, d.col_a, signer, other.address, token)
    receipt, error = relay(d, d.col_a.functions.transferBySig(*args), d.operator)
    assert error is None and d.col_a.functions.ownerOf(token).call() == other.address
    assert receipt["gasUsed"] < 100_000, receipt["gasUsed"]
    report = d.col_a.functions.reportStatusBySig(*status_sig(d, other_signer, token, LOST))
    _, error = relay(d, report, d.operator)
    assert error is None and d.col_a.functions.twin(token).call()[3] == LOST
    d.chain.send(d.col_a.functions.setServiceProvider(wallet.address, True), d.admin_a)
    _, error = relay(
        d, d.col_a.functions.recordServiceBySig(*service_sig(d, signer, wallet.address, token)), d.operator
    )
    assert error is None and d.col_a.functions.providerNonce(wallet.address).call() == 1


def test_safe_transfer_from_gives_the_receiver_all_the_gas_as_erc721_leaves_it(d: Deployment) -> None:
    owner = d.chain.new_account()
    token, _ = mint(d, 1, custodian=owner.address)
    # Needs far more than the relayed stipend; the sender of a plain safeTransferFrom pays for it.
    hungry = burner(d, owner.address, 4 * RECEIVER_STIPEND)
    fn = d.col_a.functions.safeTransferFrom(owner.address, hungry.address, token)
    receipt, error = relay(d, fn, owner.address)
    assert error is None and d.col_a.functions.ownerOf(token).call() == hungry.address
    assert receipt["gasUsed"] > 4 * RECEIVER_STIPEND


def test_a_passkey_owner_without_the_p256_precompile_costs_the_relayer_no_more(d: Deployment) -> None:
    """WebAuthn in Solidity (Prague: no precompile) needs more than the ERC-1271 stipend: a genuine
    passkey signature relayed to transferBySig with a generous gas limit is refused within the same
    bound as a gas burner (the service relays such owners through the account's executeBySig)."""
    factory = deploy_factory(d.chain, d.operator)
    key = Passkey()
    account = create_account(d.chain, factory, key, d.operator)
    token, _ = mint(d, 1, custodian=account.address)
    to, deadline = d.chain.new_account().address, d.chain.now() + 3600
    digest = transfer_digest(d.chain, d.col_a.address, to, token, 0, deadline)
    signature = erc1271_signature(d.chain, account.address, factory.functions.verifier().call(), key, digest)
    assert account.functions.isValidSignature(digest, signature).call() == bytes.fromhex("1626ba7e")
    receipt, error = relay(d, d.col_a.functions.transferBySig(to, token, 0, deadline, signature), d.operator)
    assert error is not None and error.name == "TwinmarkCollectionInvalidSignature"
    assert receipt["gasUsed"] < BOUND, receipt["gasUsed"]
    assert d.col_a.functions.ownerOf(token).call() == account.address
