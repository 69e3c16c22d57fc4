"""EIP-712 messages a Twinmark collection accepts, and signing helpers.

Every message is bound to the chain id and collection address through the domain, and to a
deadline; owner messages also carry the token's nonce.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

DOMAIN_NAME = "Twinmark"
DOMAIN_VERSION = "1"

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

TYPES: dict[str, list[dict[str, str]]] = {
    "Claim": [
        {"name": "tokenId", "type": "uint256"},
        {"name": "to", "type": "address"},
        {"name": "deadline", "type": "uint256"},
    ],
    "TransferTwin": [
        {"name": "to", "type": "address"},
        {"name": "tokenId", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "ServiceRecord": [
        {"name": "tokenId", "type": "uint256"},
        {"name": "recordCidHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "ReportStatus": [
        {"name": "tokenId", "type": "uint256"},
        {"name": "status", "type": "uint8"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def typed_data(primary: str, chain_id: int, contract: str, message: dict[str, Any]) -> dict[str, Any]:
    """The full EIP-712 payload (as `eth_signTypedData_v4` takes it) for one message. A dict on purpose:
    it is the wallet's JSON as the standard spells it (`primaryType`, `EIP712Domain`), handed to
    eth-account and to wallets unchanged."""
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, primary: TYPES[primary]},
        "primaryType": primary,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": contract,
        },
        "message": message,
    }


def sign(account: LocalAccount, payload: dict[str, Any]) -> bytes:
    """65-byte signature (r, s, v) of an EIP-712 payload."""
    signed = Account.sign_message(encode_typed_data(full_message=payload), account.key)
    return bytes(signed.signature)


def digest(payload: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest of a payload: what an ERC-1271 wallet is asked about."""
    message = encode_typed_data(full_message=payload)
    return bytes(keccak(b"\x19" + message.version + message.header + message.body))


def recover(payload: dict[str, Any], signature: bytes) -> str | None:
    """The address whose key made this 65-byte signature of an EIP-712 payload, or None when the bytes
    are no such signature (a contract wallet's ERC-1271 signature is not: the chain checks those)."""
    try:
        address: str = Account.recover_message(encode_typed_data(full_message=payload), signature=signature)
    except Exception:  # malformed r/s/v, wrong length, invalid point: not an EOA's signature
        return None
    return address


def compact(signature: bytes) -> tuple[bytes, bytes]:
    """ERC-2098 compact form (r, vs) of a 65-byte signature."""
    if len(signature) != 65:
        raise ValueError("expected a 65-byte signature")
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    parity = (v - 27) if v >= 27 else v
    vs = s | (parity << 255)
    return r, vs.to_bytes(32, "big")
