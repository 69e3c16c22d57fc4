"""Delivery signatures, two ways over the same secret:

- Twinmark's own: `Twinmark-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`;
- Standard Webhooks (standardwebhooks.com), so receivers can use its libraries:
  `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`
  where the key is the base64 part of the `whsec_...` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + HMAC-SHA256 over `timestamp.body`: what the Twinmark-Signature header carries."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of a delivery's signature."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def new_secret() -> str:
    """`whsec_` + 32 random bytes in standard base64: the shape Standard Webhooks libraries decode."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def standard_key(secret: str) -> bytes | None:
    """The HMAC key Standard Webhooks libraries derive from `secret`; None for secrets made before
    secrets were standard base64 (those subscriptions keep Twinmark's own signature only)."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        return None


def standard_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` value (Standard Webhooks v1)."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, event_id: str, event_type: str, timestamp: str, body: bytes) -> dict[str, str]:
    """Every header a delivery carries: content type, event id and type, both signatures."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Twinmark-Webhooks/1",
        "Twinmark-Event-Id": event_id,
        "Twinmark-Event-Type": event_type,
        "Twinmark-Timestamp": timestamp,
        "Twinmark-Signature": signature(secret, timestamp, body),
    }
    key = standard_key(secret)
    if key is not None:
        headers |= {
            "webhook-id": event_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": standard_signature(key, event_id, timestamp, body),
        }
    return headers
