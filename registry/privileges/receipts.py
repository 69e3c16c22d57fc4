"""Receipts a venue checks offline: an EIP-712 `Receipt` signed by the service's receipt key (never
the relayer's), carried as text `tmr1.<payload>.<signature>` (base64url) in a QR on the owner's phone.

Checking one needs only the pinned receipt address: the payload is the typed message itself, and the
signature must recover to that address. Whether it was used or revoked is the journal's and the
server's business (`registry.privileges.journal`, `registry.privileges.uses`)."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from registry import redaction
from registry.errors import ConfigurationError
from registry.secret_files import read_or_create
from registry.settings import Settings

PREFIX = "tmr1"
DOMAIN_NAME = "Twinmark Receipt"
DOMAIN_VERSION = "1"
RECEIPT_TYPE = [
    {"name": "privilegeId", "type": "uint256"},
    {"name": "collection", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "owner", "type": "address"},
    {"name": "issuedAt", "type": "uint64"},
    {"name": "expiresAt", "type": "uint64"},
    {"name": "nonce", "type": "bytes32"},
]


@dataclass(frozen=True)
class Receipt:
    chain_id: int
    privilege_id: int
    collection: str
    token_id: int
    owner: str
    issued_at: int
    expires_at: int
    nonce: str  # 0x + 64 hex


class ForgedReceipt(ValueError):
    """Not a receipt this service signed (malformed text, or a signature of another key)."""


def domain(chain_id: int) -> dict[str, str | int]:
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id}


def typed(receipt: Receipt) -> dict[str, Any]:
    """The EIP-712 payload of a receipt. A dict on purpose: the standard's JSON, as wallets and
    eth-account take it (like `registry.chain.typed_data.typed_data`)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "Receipt": RECEIPT_TYPE,
        },
        "primaryType": "Receipt",
        "domain": domain(receipt.chain_id),
        "message": {
            "privilegeId": receipt.privilege_id,
            "collection": receipt.collection,
            "tokenId": receipt.token_id,
            "owner": receipt.owner,
            "issuedAt": receipt.issued_at,
            "expiresAt": receipt.expires_at,
            "nonce": bytes.fromhex(receipt.nonce[2:]),
        },
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(account: LocalAccount, receipt: Receipt) -> str:
    """The receipt's text: `tmr1.<payload>.<signature>`."""
    signature = Account.sign_message(encode_typed_data(full_message=typed(receipt)), account.key).signature
    payload = json.dumps(asdict(receipt), separators=(",", ":"), sort_keys=True).encode()
    return f"{PREFIX}.{_b64(payload)}.{_b64(bytes(signature))}"


def decode(text: str) -> tuple[Receipt, bytes]:
    """The receipt and signature in `text`; ForgedReceipt if it is not one."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ForgedReceipt("not a Twinmark receipt")
    try:
        fields = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
        receipt = Receipt(**fields)
        for name in ("chain_id", "privilege_id", "token_id", "issued_at", "expires_at"):
            if not isinstance(getattr(receipt, name), int) or getattr(receipt, name) < 0:
                raise ValueError(name)
        receipt = Receipt(
            **(
                asdict(receipt)
                | {"collection": to_checksum_address(receipt.collection), "owner": to_checksum_address(receipt.owner)}
            )
        )
        if len(bytes.fromhex(receipt.nonce.removeprefix("0x"))) != 32 or not receipt.nonce.startswith("0x"):
            raise ValueError("nonce")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ForgedReceipt("the receipt is malformed") from None
    return receipt, signature


def verify(text: str, pinned: str) -> Receipt:
    """The receipt, if its signature is the pinned address's; ForgedReceipt otherwise. Offline."""
    receipt, signature = decode(text)
    try:
        signer = Account.recover_message(encode_typed_data(full_message=typed(receipt)), signature=signature)
    except Exception:  # malformed r/s/v or an invalid point: no signature of anyone's
        raise ForgedReceipt("the signature is malformed") from None
    if signer.lower() != pinned.lower():
        raise ForgedReceipt(f"signed by {signer}, not by the pinned receipt key {pinned}")
    return receipt


_LOADED: dict[str, LocalAccount] = {}


def receipt_account(settings: Settings) -> LocalAccount:
    """The receipt key: `TWINMARK_RECEIPT_KEY`, or generated once into `data_dir/receipt-key` (0600).
    Refused if it is the relayer's (signer's) or the operator's key: a venue pins this address, and a
    leak of it must not move anyone's twins."""
    if settings.receipt_key is not None:
        key = settings.receipt_key.get_secret_value()
    else:
        key = read_or_create(settings.data_dir / "receipt-key", lambda: "0x" + os.urandom(32).hex())
    if key in _LOADED:
        return _LOADED[key]
    redaction.register(key)
    try:
        account: LocalAccount = Account.from_key(key)
    except (ValueError, TypeError):
        raise ConfigurationError("unusable receipt key (TWINMARK_RECEIPT_KEY or data_dir/receipt-key)") from None
    others = [k.get_secret_value() for k in (settings.signer_key, settings.operator_key) if k is not None]
    if any(Account.from_key(k).address == account.address for k in others if _is_key(k)):
        raise ConfigurationError("the receipt key must not be the signer's or the operator's key")
    _LOADED[key] = account
    return account


def _is_key(text: str) -> bool:
    try:
        Account.from_key(text)
    except (ValueError, TypeError):
        return False
    return True
