"""Deploying the Twinmark contracts, or finding the deployment a data directory remembers.

The owner-account contracts (the passkey account factory, which deploys the WebAuthn verifier and
the account implementation, and the relay helper) go through the deterministic CREATE2 deployer
that Anvil and most chains have, so they, and every passkey account's address, are the same on
every chain. They are found by their code at the predicted address, so a data directory remembered
before they existed gets them on its next start.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from eth_abi.abi import encode
from eth_utils.crypto import keccak
from rlp import encode as rlp_encode
from web3 import Web3

from registry.chain import artifacts
from registry.chain.sender import TxSender
from registry.errors import ChainUnavailable

log = logging.getLogger(__name__)


# Arachnid's deterministic deployer (https://github.com/Arachnid/deterministic-deployment-proxy):
# calldata `salt ++ initCode`, CREATE2, answers the new address. Anvil has it unless `--no-create2`.
CREATE2_DEPLOYER = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
# One salt for ever: the addresses (and every passkey account's) follow from it and the code.
OWNERS_SALT = bytes(32)


@dataclass(frozen=True)
class OwnerContracts:
    """Where the passkey owner accounts' contracts are (the same on every chain)."""

    factory: str
    implementation: str  # the account implementation every account is a clone of
    verifier: str  # OpenZeppelin's ERC7913WebAuthnVerifier, deployed by the factory
    helper: str  # TwinmarkRelayHelper: deploys an account and makes its first call in one transaction


@dataclass(frozen=True)
class Deployment:
    registry: str
    block: int  # the registry's deployment block: no event of the registry or its collections is older
    owners: OwnerContracts | None = None  # None: passkey accounts unsupported on this chain


class Addresses(TypedDict):
    registry: str
    implementation: str
    block: int
    # The owner-account contracts (absent from state files written before they existed).
    account_factory: NotRequired[str]
    account_implementation: NotRequired[str]
    webauthn_verifier: NotRequired[str]
    relay_helper: NotRequired[str]


def deploy(w3: Web3, sender: TxSender, *, owner: str | None = None) -> Addresses:
    """Deploys the collection implementation and a registry owned by `owner` (the operator; default:
    the sender's own key); `block` is the registry's deployment block."""

    def create(name: str, *args: Any) -> tuple[str, int]:
        art = artifacts.load(name)
        factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = sender.transact(factory.constructor(*args))
        return str(receipt["contractAddress"]), int(receipt["blockNumber"])

    implementation, _ = create("TwinmarkCollection")
    registry, block = create("TwinmarkRegistry", owner or sender.address, implementation)
    return Addresses(registry=registry, implementation=implementation, block=block)


def create2_address(init_code: bytes, salt: bytes = OWNERS_SALT) -> str:
    """Where the deterministic deployer puts `init_code` with `salt`."""
    deployer = bytes.fromhex(CREATE2_DEPLOYER[2:])
    return Web3.to_checksum_address(keccak(b"\xff" + deployer + salt + keccak(init_code))[12:])


def create_address(creator: str, nonce: int) -> str:
    """Where a contract's `nonce`-th CREATE puts its child (a contract's nonces start at 1)."""
    return Web3.to_checksum_address(keccak(rlp_encode([bytes.fromhex(creator[2:]), nonce]))[12:])


def owner_init_codes() -> tuple[bytes, bytes]:
    """Creation code of the factory and of the relay helper (its constructor names the factory)."""
    factory_code = bytes.fromhex(artifacts.load("TwinmarkAccountFactory").bytecode.removeprefix("0x"))
    helper_code = bytes.fromhex(artifacts.load("TwinmarkRelayHelper").bytecode.removeprefix("0x"))
    return factory_code, helper_code + encode(["address"], [create2_address(factory_code)])


def predicted_owner_contracts() -> OwnerContracts:
    """The owner-account contracts' addresses, from their code alone (no node)."""
    factory_code, helper_code = owner_init_codes()
    factory = create2_address(factory_code)
    # The factory's constructor creates the verifier, then the implementation.
    return OwnerContracts(
        factory=factory,
        implementation=create_address(factory, 2),
        verifier=create_address(factory, 1),
        helper=create2_address(helper_code),
    )


class _DeployerCall:
    """A call to the deterministic deployer, shaped like a contract function for `TxSender`."""

    def __init__(self, w3: Web3, data: bytes) -> None:
        self.w3, self.data = w3, "0x" + (OWNERS_SALT + data).hex()

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        return int(self.w3.eth.estimate_gas({**tx, "to": CREATE2_DEPLOYER, "data": self.data}))  # type: ignore[typeddict-item]

    def build_transaction(self, tx: dict[str, Any]) -> dict[str, Any]:
        return {**tx, "to": CREATE2_DEPLOYER, "data": self.data}


def ensure_owner_contracts(w3: Web3, sender: TxSender) -> OwnerContracts | None:
    """The owner-account contracts, deployed through the deterministic deployer where they have no
    code yet; None on a chain without that deployer (passkey accounts are then unsupported)."""
    if not w3.eth.get_code(Web3.to_checksum_address(CREATE2_DEPLOYER)):
        log.warning("no CREATE2 deployer at %s: passkey owner accounts are unsupported", CREATE2_DEPLOYER)
        return None
    owners = predicted_owner_contracts()
    for address, code in zip((owners.factory, owners.helper), owner_init_codes(), strict=True):
        if not w3.eth.get_code(Web3.to_checksum_address(address)):
            try:
                sender.transact(_DeployerCall(w3, code))
            except Exception:
                # Several processes starting on a fresh chain (the API and the worker) race to deploy;
                # the deployer reverts for the loser, whose estimate or transaction fails. The address
                # is the same for all, so code there means another process won.
                if not w3.eth.get_code(Web3.to_checksum_address(address)):
                    raise
                continue
            if not w3.eth.get_code(Web3.to_checksum_address(address)):
                raise ChainUnavailable(f"the CREATE2 deployer did not deploy {address}")
            log.info("deployed %s through the CREATE2 deployer", address)
    return owners


def _owner_addresses(owners: OwnerContracts | None) -> dict[str, str]:
    if owners is None:
        return {}
    return {
        "account_factory": owners.factory,
        "account_implementation": owners.implementation,
        "webauthn_verifier": owners.verifier,
        "relay_helper": owners.helper,
    }


def find_deployment_block(w3: Web3, address: str) -> int:
    """The first block where `address` has code (binary search on historical state, ~log2(head) calls);
    0 when the node keeps no historical state to ask."""
    target = Web3.to_checksum_address(address)
    lo, hi = 0, int(w3.eth.block_number)
    try:
        while lo < hi:
            mid = (lo + hi) // 2
            if w3.eth.get_code(target, mid):
                hi = mid
            else:
                lo = mid + 1
    except Exception as exc:  # a pruned node: scan from genesis (slow but correct); say so
        log.warning("deployment block of %s not found (%s): log queries start at block 0", target, type(exc).__name__)
        return 0
    return lo


def ensure_deployed(
    w3: Web3,
    sender: TxSender,
    state_file: Path,
    configured: str | None,
    *,
    owner: str | None = None,
    configured_block: int | None = None,
    owner_accounts: bool = True,
) -> Deployment:
    """The registry and its deployment block: configured, remembered in `state_file`, or freshly
    deployed; with the owner-account contracts (found or deployed) unless `owner_accounts` is off."""
    if configured:
        if not w3.eth.get_code(Web3.to_checksum_address(configured)):
            raise ChainUnavailable(f"no contract at the configured registry address {configured}")
        block = configured_block if configured_block is not None else find_deployment_block(w3, configured)
        return Deployment(configured, block, ensure_owner_contracts(w3, sender) if owner_accounts else None)
    if state_file.exists():
        known = json.loads(state_file.read_text())
        if w3.eth.get_code(known["registry"]):
            block = known.get("block")
            if block is None:  # remembered before blocks were recorded
                block = find_deployment_block(w3, known["registry"])
            owners = ensure_owner_contracts(w3, sender) if owner_accounts else None
            remembered = known | {"block": block} | _owner_addresses(owners)
            if remembered != known:
                state_file.write_text(json.dumps(remembered, indent=2))
            return Deployment(str(known["registry"]), int(block), owners)
    addresses = deploy(w3, sender, owner=owner)
    owners = ensure_owner_contracts(w3, sender) if owner_accounts else None
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"chain_id": sender.chain_id, **addresses, **_owner_addresses(owners)}, indent=2))
    return Deployment(addresses["registry"], addresses["block"], owners)
