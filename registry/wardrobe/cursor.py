"""Opaque page cursors: a (collection, token id) position, bound by a MAC to the listing it came from.

The position alone is public (the last item of the page), so the MAC is not about secrecy: a cursor
that was edited, truncated, or issued for another owner or other filters is refused (422) instead of
silently starting somewhere else."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from eth_utils.address import to_checksum_address

from registry.errors import InvalidInput

_VERSION = 1
_TAG = 12  # bytes of HMAC-SHA256 kept: 96 bits, far beyond guessing through an API


def _tag(key: str, scope: str, body: bytes) -> bytes:
    return hmac.new(key.encode(), b"wardrobe-cursor\0" + scope.encode() + b"\0" + body, hashlib.sha256).digest()[:_TAG]


def encode(key: str, scope: str, collection: str, token_id: int) -> str:
    body = bytes([_VERSION]) + bytes.fromhex(collection[2:]) + token_id.to_bytes(8, "big")
    return base64.urlsafe_b64encode(body + _tag(key, scope, body)).decode().rstrip("=")


def decode(key: str, scope: str, cursor: str) -> tuple[str, int]:
    """The (collection, token id) after which the next page starts; InvalidInput for anything this
    service did not issue for this very listing (`scope`: owner and filters)."""
    refused = InvalidInput("cursor is not one this listing issued: pass `next_cursor` from the previous page as is")
    if len(cursor) > 100:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise refused from None
    if len(raw) != 1 + 20 + 8 + _TAG or raw[0] != _VERSION:
        raise refused
    body, tag = raw[:-_TAG], raw[-_TAG:]
    if not hmac.compare_digest(tag, _tag(key, scope, body)):
        raise refused
    return to_checksum_address(body[1:21]), int.from_bytes(body[21:29], "big")
