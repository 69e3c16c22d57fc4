"""Deploying the Twinmark contracts, or finding the deployment a data directory remembers."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from web3 import Web3

from registry.chain import artifacts
from registry.chain.sender import TxSender
from registry.errors import ChainUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deployment:
    registry: str
    block: int  # the registry's deployment block: no event of the registry or its collections is older


class Addresses(TypedDict):
    registry: str
    implementation: str
    block: int


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
) -> Deployment:
    """The registry and its deployment block: configured, remembered in `state_file`, or freshly deployed."""
    if configured:
        if not w3.eth.get_code(Web3.to_checksum_address(configured)):
            raise ChainUnavailable(f"no contract at the configured registry address {configured}")
        block = configured_block if configured_block is not None else find_deployment_block(w3, configured)
        return Deployment(configured, block)
    if state_file.exists():
        known = json.loads(state_file.read_text())
        if w3.eth.get_code(known["registry"]):
            block = known.get("block")
            if block is None:  # remembered before blocks were recorded
                block = find_deployment_block(w3, known["registry"])
                state_file.write_text(json.dumps(known | {"block": block}, indent=2))
            return Deployment(str(known["registry"]), int(block))
    addresses = deploy(w3, sender, owner=owner)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"chain_id": sender.chain_id, **addresses}, indent=2))
    return Deployment(addresses["registry"], addresses["block"])
