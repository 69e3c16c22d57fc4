"""Deploying the Twinmark contracts, or finding the deployment a data directory remembers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web3 import Web3

from registry.chain import artifacts
from registry.chain.sender import TxSender
from registry.errors import ChainUnavailable


def deploy(w3: Web3, sender: TxSender, *, owner: str | None = None) -> dict[str, str]:
    """Deploys the collection implementation and a registry owned by `owner` (the operator; default:
    the sender's own key)."""

    def create(name: str, *args: Any) -> str:
        art = artifacts.load(name)
        factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = sender.transact(factory.constructor(*args))
        return str(receipt["contractAddress"])

    implementation = create("TwinmarkCollection")
    registry = create("TwinmarkRegistry", owner or sender.address, implementation)
    return {"registry": registry, "implementation": implementation}


def ensure_deployed(
    w3: Web3, sender: TxSender, state_file: Path, configured: str | None, *, owner: str | None = None
) -> str:
    """The registry address: configured, remembered in `state_file`, or freshly deployed."""
    if configured:
        if not w3.eth.get_code(Web3.to_checksum_address(configured)):
            raise ChainUnavailable(f"no contract at the configured registry address {configured}")
        return configured
    if state_file.exists():
        known = json.loads(state_file.read_text())
        if w3.eth.get_code(known["registry"]):
            return str(known["registry"])
    addresses = deploy(w3, sender, owner=owner)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"chain_id": sender.chain_id, **addresses}, indent=2))
    return addresses["registry"]
