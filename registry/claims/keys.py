"""Claim secrets and the claim keys derived from them.

The brand ships a secret with each item. The chain commits only to the claim key (an address)
derived from it, so neither the secret nor the key is ever on chain or IPFS. The derivation is
salted with chain id, collection and token id, so a secret is worthless for any other twin.
"""

from __future__ import annotations

import base64
import secrets as _secrets

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_canonical_address
from eth_utils.crypto import keccak

SECRET_BYTES = 20  # 160 bits from the OS CSPRNG; prints as 32 base32 characters
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_DOMAIN = b"twinmark/claim-key/v1"


def new_secret() -> str:
    """A fresh claim secret, upper-case base32 without padding (QR-code and typing friendly)."""
    return base64.b32encode(_secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    cleaned = secret.strip().replace("-", "").replace(" ", "").upper()
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        raw = base64.b32decode(padded)
    except ValueError as exc:
        raise ValueError("a claim secret is base32 text") from exc
    if len(raw) < 16:
        raise ValueError("a claim secret carries at least 128 bits")
    return raw


def claim_key(secret: str, chain_id: int, collection: str, token_id: int) -> LocalAccount:
    """The claim key of one twin: a secp256k1 key derived from its secret and its identity."""
    material = (
        _DOMAIN
        + chain_id.to_bytes(32, "big")
        + to_canonical_address(collection)
        + token_id.to_bytes(32, "big")
        + _secret_bytes(secret)
    )
    key = int.from_bytes(keccak(material), "big")
    while not 0 < key < _SECP256K1_N:  # probability ~2^-128; rehash rather than bias
        material = keccak(material)
        key = int.from_bytes(material, "big")
    account: LocalAccount = Account.from_key(key.to_bytes(32, "big"))
    return account
