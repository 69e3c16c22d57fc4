"""Typed access to the Twinmark contracts for the service: deploy, brands, collections, batches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from registry.chain import artifacts
from registry.chain.sender import TxSender, retrying
from registry.errors import ChainUnavailable, ContractReverted

PHYSICAL, VIRTUAL = 0, 1
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class OnChainBatch:
    custodian: str
    size: int
    kind: int
    minted_at: int
    anchor: bytes
    claim_root: bytes


@dataclass(frozen=True)
class OnChainTwin:
    owner: str
    batch_id: int
    kind: int
    status: int
    claimed: bool
    claimable: bool
    nonce: int
    minted_at: int
    custodian: str
    uri: str


def mint_gas(size: int) -> int:
    """Gas limit for a batch mint, so pipelined mints need no estimate against a future state."""
    return 180_000 + 2_600 * size


class TwinmarkChain:
    def __init__(self, w3: Web3, sender: TxSender, registry_address: str) -> None:
        self.w3 = w3
        self.sender = sender
        self.registry = self._contract(registry_address, "TwinmarkRegistry")

    def _contract(self, address: str, name: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.load(name).abi)

    @cache  # noqa: B019 - one contract object per collection for the life of the process
    def collection(self, address: str) -> Contract:
        return self._contract(address, "TwinmarkCollection")

    def call(self, fn: Any) -> Any:
        try:
            return retrying(fn.call)
        except ContractReverted:
            raise
        except Exception as exc:
            data = getattr(exc, "data", None)
            if data is not None:
                raise self.sender.decoder.decode(data) from None
            raise

    # ------------------------------------------------------------ writes

    def register_brand(self, admin: str, name: str) -> int:
        receipt = self.sender.transact(self.registry.functions.registerBrand(admin, name))
        return int(self._events(self.registry, "BrandRegistered", receipt)[0]["brandId"])

    def create_collection(self, brand_id: int, name: str, symbol: str, contract_uri: str, minter: str) -> str:
        fn = self.registry.functions.createCollection(brand_id, name, symbol, contract_uri, ZERO_ADDRESS, 0, minter)
        receipt = self.sender.transact(fn)
        return str(self._events(self.registry, "CollectionCreated", receipt)[0]["collection"])

    def mint_fn(
        self, collection: str, batch_id: int, custodian: str, size: int, kind: int, anchor: bytes, claim_root: bytes
    ) -> Any:
        return self.collection(collection).functions.mintBatch(batch_id, custodian, size, kind, anchor, claim_root)

    # ------------------------------------------------------------ reads

    def next_batch_id(self, collection: str) -> int:
        return int(self.call(self.collection(collection).functions.nextBatchId()))

    def batch(self, collection: str, batch_id: int) -> OnChainBatch:
        header, anchor, claim_root = self.call(self.collection(collection).functions.batch(batch_id))
        return OnChainBatch(header[0], header[1], header[2], header[3], bytes(anchor), bytes(claim_root))

    def twin(self, collection: str, token_id: int) -> OnChainTwin | None:
        """The twin as the chain knows it, or None when it does not exist (or was burned)."""
        try:
            t = self.call(self.collection(collection).functions.twin(token_id))
        except ContractReverted as exc:
            if exc.name == "ERC721NonexistentToken":
                return None
            raise
        return OnChainTwin(*t)

    def is_burned(self, collection: str, token_id: int) -> bool:
        return bool(self.call(self.collection(collection).functions.isBurned(token_id)))

    def brand_of(self, collection: str) -> int:
        return int(self.call(self.registry.functions.brandOf(Web3.to_checksum_address(collection))))

    def brand(self, brand_id: int) -> dict[str, Any]:
        admin, registered_at, suspended, name = self.call(self.registry.functions.brand(brand_id))
        return {"admin": admin, "registered_at": registered_at, "suspended": suspended, "name": name}

    def compromised_at(self, brand_id: int, timestamp: int) -> bool:
        return bool(self.call(self.registry.functions.isCompromisedAt(brand_id, timestamp)))

    def batch_minted_log(self, collection: str, batch_id: int) -> dict[str, Any] | None:
        """The BatchMinted event of `batch_id` (tx hash, block), if the chain has one."""
        event = self.collection(collection).events.BatchMinted()
        logs = retrying(lambda: event.get_logs(from_block=0, argument_filters={"batchId": batch_id}))
        return dict(logs[0]) if logs else None

    @staticmethod
    def _events(contract: Contract, name: str, receipt: TxReceipt) -> list[Any]:
        return [e["args"] for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)]


# ---------------------------------------------------------------- deployment


def deploy(w3: Web3, sender: TxSender) -> dict[str, str]:
    """Deploys the collection implementation and a registry operated by the sender's key."""

    def create(name: str, *args: Any) -> str:
        art = artifacts.load(name)
        factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = sender.transact(factory.constructor(*args))
        return str(receipt["contractAddress"])

    implementation = create("TwinmarkCollection")
    registry = create("TwinmarkRegistry", sender.address, implementation)
    return {"registry": registry, "implementation": implementation}


def ensure_deployed(w3: Web3, sender: TxSender, state_file: Path, configured: str | None) -> str:
    """The registry address: configured, remembered in `state_file`, or freshly deployed."""
    if configured:
        if not retrying(lambda: w3.eth.get_code(Web3.to_checksum_address(configured))):
            raise ChainUnavailable(f"no contract at the configured registry address {configured}")
        return configured
    if state_file.exists():
        known = json.loads(state_file.read_text())
        if retrying(lambda: w3.eth.get_code(known["registry"])):
            return str(known["registry"])
    addresses = deploy(w3, sender)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"chain_id": sender.chain_id, **addresses}, indent=2))
    return addresses["registry"]
