"""Delivery signatures verify with Twinmark's own check and with the Standard Webhooks reference
library, and a tampered body, timestamp or secret fails both."""

from __future__ import annotations

import base64
import secrets
import time

import pytest
import standardwebhooks

from registry.webhooks.signing import new_secret, signed_headers, verify_signature

BODY = b'{"id":"evt_1","type":"minted"}'


def test_new_secrets_carry_32_random_bytes_in_standard_base64() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


@pytest.mark.parametrize("secret", [new_secret(), "whsec_" + secrets.token_urlsafe(32)])  # new and earlier shape
def test_both_signatures_verify_and_tampering_fails(secret: str) -> None:
    timestamp = str(int(time.time()))
    headers = signed_headers(secret, "evt_1", "minted", timestamp, BODY)
    assert verify_signature(secret, headers["Twinmark-Timestamp"], BODY, headers["Twinmark-Signature"])
    assert standardwebhooks.Webhook(secret).verify(BODY, headers) == {"id": "evt_1", "type": "minted"}

    tampered = BODY.replace(b"minted", b"burned")
    assert not verify_signature(secret, timestamp, tampered, headers["Twinmark-Signature"])
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(tampered, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(BODY, headers)
    moved = headers | {"webhook-timestamp": str(int(timestamp) - 1)}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(BODY, moved)
