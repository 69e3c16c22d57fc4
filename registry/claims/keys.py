"""Claim secrets and the claim keys derived from them.

The brand ships a secret with each item. The chain commits only to the claim key (an address)
derived from it, so neither the secret nor the key is ever on chain or IPFS. The derivation is
salted with chain id and collection; the Merkle leaf binds the key to one token id, so a secret
opens exactly one twin. (The token id is not part of the derivation because secrets are made when
a mint is requested, before the batch, and therefore the token ids, are fixed.)
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


def claim_key(secret: str, chain_id: int, collection: str) -> LocalAccount:
    """The claim key behind a secret: a secp256k1 key derived from it, salted with chain and collection."""
    material = _DOMAIN + chain_id.to_bytes(32, "big") + to_canonical_address(collection) + _secret_bytes(secret)
    key = int.from_bytes(keccak(material), "big")
    while not 0 < key < _SECP256K1_N:  # probability ~2^-128; rehash rather than bias
        material = keccak(material)
        key = int.from_bytes(material, "big")
    account: LocalAccount = Account.from_key(key.to_bytes(32, "big"))
    return account
