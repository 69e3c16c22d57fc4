"""Test-side helpers over a real Anvil: deploy, send with decoded reverts, mint, sign."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from registry.chain import artifacts, typed_data
from registry.chain.reverts import RevertDecoder
from registry.claims.keys import claim_key, new_secret
from registry.claims.merkle import ClaimTree

ROOT = Path(__file__).resolve().parents[2]
HARDHAT = ROOT / "artifacts" / "contracts"
PHYSICAL, VIRTUAL = 0, 1
NONE, LOST, STOLEN = 0, 1, 2


def hardhat_artifact(source: str, name: str) -> artifacts.Artifact:
    return artifacts.load_hardhat(HARDHAT / source / f"{name}.json")


@dataclass
class Chain:
    w3: Web3
    decoder: RevertDecoder = field(init=False)

    def __post_init__(self) -> None:
        self.decoder = RevertDecoder(
            [artifacts.load(n).abi for n in ("TwinmarkRegistry", "TwinmarkCollection")]
            + [hardhat_artifact("reference/ReferenceURIStorageNFT.sol", "ReferenceURIStorageNFT").abi]
        )

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def fund(self, address: str) -> None:
        self.w3.provider.make_request("anvil_setBalance", [address, hex(10**21)])  # type: ignore[arg-type]

    def new_account(self) -> LocalAccount:
        acct: LocalAccount = Account.create()
        self.fund(acct.address)
        return acct

    def deploy(self, art: artifacts.Artifact, sender: str, *args: Any) -> Contract:
        return self.deploy_with_receipt(art, sender, *args)[0]

    def deploy_with_receipt(self, art: artifacts.Artifact, sender: str, *args: Any) -> tuple[Contract, TxReceipt]:
        factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = self.send(factory.constructor(*args), sender)
        return self.contract(str(receipt["contractAddress"]), art.abi), receipt

    def contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def send(self, fn: Any, sender: str, gas: int | None = None) -> TxReceipt:
        """Sends a transaction from `sender` (Anvil impersonates it); reverts raise ContractReverted."""
        tx: dict[str, Any] = {"from": sender}
        if gas is not None:
            tx["gas"] = gas
        try:
            tx_hash = fn.transact(tx)
        except ContractCustomError as exc:
            raise self.decoder.decode(exc.data) from None
        except ContractLogicError as exc:
            raise self.decoder.decode(exc.data) from None
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise AssertionError(f"transaction mined but failed: {receipt}")
        return receipt

    def call(self, fn: Any) -> Any:
        """Calls a view; reverts raise ContractReverted with the decoded custom error."""
        try:
            return fn.call()
        except (ContractCustomError, ContractLogicError) as exc:
            raise self.decoder.decode(exc.data) from None

    @staticmethod
    def events(contract: Contract, name: str, receipt: TxReceipt) -> list[Any]:
        """Decoded `name` events of `contract` in `receipt` (other logs are skipped)."""
        return [e["args"] for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)]

    def collection(self, address: str) -> Contract:
        return self.contract(address, artifacts.load("TwinmarkCollection").abi)


@dataclass
class Deployment:
    chain: Chain
    operator: str
    registry: Contract
    brand_a: int
    brand_b: int
    admin_a: str
    admin_b: str
    minter_a: str
    minter_b: str
    provider_a: str
    col_a: Contract
    col_b: Contract


def deploy_twinmark(chain: Chain, accounts: list[str]) -> Deployment:
    operator, admin_a, admin_b, minter_a, minter_b, provider_a = accounts[:6]
    impl = chain.deploy(artifacts.load("TwinmarkCollection"), operator)
    registry = chain.deploy(artifacts.load("TwinmarkRegistry"), operator, operator, impl.address)
    chain.send(registry.functions.registerBrand(admin_a, "Maison A"), operator)
    chain.send(registry.functions.registerBrand(admin_b, "Atelier B"), operator)

    def create(brand: int, admin: str, name: str, symbol: str, minter: str) -> Contract:
        fn = registry.functions.createCollection(brand, name, symbol, f"ipfs://contract-{symbol}", admin, 500, minter)
        receipt = chain.send(fn, admin)
        event = chain.events(registry, "CollectionCreated", receipt)[0]
        return chain.collection(event["collection"])

    col_a = create(1, admin_a, "Maison A", "MSNA", minter_a)
    col_b = create(2, admin_b, "Atelier B", "ATLB", minter_b)
    chain.send(col_a.functions.setServiceProvider(provider_a, True), admin_a)
    return Deployment(chain, operator, registry, 1, 2, admin_a, admin_b, minter_a, minter_b, provider_a, col_a, col_b)


def random_digest() -> bytes:
    return os.urandom(32)


def mint(
    d: Deployment,
    size: int,
    *,
    col: Contract | None = None,
    minter: str | None = None,
    custodian: str | None = None,
    kind: int = PHYSICAL,
    anchor: bytes | None = None,
    claim_root: bytes = b"\x00" * 32,
) -> tuple[int, TxReceipt]:
    """Mints the next batch; returns its first token id and the receipt."""
    col = col if col is not None else d.col_a
    minter = minter or d.minter_a
    batch_id = col.functions.nextBatchId().call()
    fn = col.functions.mintBatch(batch_id, custodian or minter, size, kind, anchor or random_digest(), claim_root)
    receipt = d.chain.send(fn, minter)
    return batch_id * 10_000 + 1, receipt


@dataclass
class ClaimableBatch:
    first: int
    secrets: dict[int, str]
    tree: ClaimTree


def mint_claimable(d: Deployment, size: int, col: Contract | None = None) -> ClaimableBatch:
    """Mints a batch whose twins can be claimed with per-twin secrets, as the service will."""
    col = col if col is not None else d.col_a
    minter = d.minter_a if col.address == d.col_a.address else d.minter_b
    batch_id = col.functions.nextBatchId().call()
    first = batch_id * 10_000 + 1
    secrets = {first + i: new_secret() for i in range(size)}
    leaves = [(t, claim_key(s, d.chain.chain_id, col.address).address) for t, s in secrets.items()]
    tree = ClaimTree(leaves)
    got, _ = mint(d, size, col=col, minter=minter, claim_root=tree.root)
    assert got == first
    return ClaimableBatch(first, secrets, tree)


def claim_args(
    d: Deployment,
    col: Contract,
    batch: ClaimableBatch,
    token_id: int,
    to: str,
    *,
    secret: str | None = None,
    deadline: int | None = None,
    signed_to: str | None = None,
) -> tuple[Any, ...]:
    key = claim_key(secret or batch.secrets[token_id], d.chain.chain_id, col.address)
    deadline = deadline if deadline is not None else d.chain.now() + 3600
    payload = typed_data.typed_data(
        "Claim",
        d.chain.chain_id,
        col.address,
        {"tokenId": token_id, "to": signed_to or to, "deadline": deadline},
    )
    r, vs = typed_data.compact(typed_data.sign(key, payload))
    return (token_id, to, deadline, r, vs, batch.tree.proof(token_id))


def transfer_sig(
    d: Deployment,
    col: Contract,
    owner: LocalAccount,
    to: str,
    token_id: int,
    *,
    nonce: int | None = None,
    deadline: int | None = None,
    chain_id: int | None = None,
    contract: str | None = None,
) -> tuple[Any, ...]:
    nonce = col.functions.twin(token_id).call()[6] if nonce is None else nonce
    deadline = deadline if deadline is not None else d.chain.now() + 3600
    payload = typed_data.typed_data(
        "TransferTwin",
        chain_id or d.chain.chain_id,
        contract or col.address,
        {"to": to, "tokenId": token_id, "nonce": nonce, "deadline": deadline},
    )
    return (to, token_id, nonce, deadline, typed_data.sign(owner, payload))
