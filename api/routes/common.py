"""Path and body helpers shared by the routes."""

from __future__ import annotations

from web3 import Web3

from registry.errors import InvalidInput


def checksum(contract: str) -> str:
    """A contract address from a path, checksummed; InvalidInput otherwise."""
    if not Web3.is_address(contract):
        raise InvalidInput(f"{contract!r} is not a contract address")
    return Web3.to_checksum_address(contract)


def signature_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("signature must be hex") from None
