"""Delivery signatures: `Twinmark-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + HMAC-SHA256 over `timestamp.body`: what the Twinmark-Signature header carries."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of a delivery's signature."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)
