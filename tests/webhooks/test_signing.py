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


def test_both_signatures_verify_and_tampering_fails() -> None:
    secret = new_secret()
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


@pytest.mark.parametrize("n", range(8))
def test_secrets_of_the_earlier_shape_keep_their_own_signature_only(n: int) -> None:
    """Subscriptions made before secrets were standard base64 (`token_urlsafe`) are not given a
    Standard Webhooks signature no library could check; Twinmark's own still verifies."""
    secret = "whsec_" + secrets.token_urlsafe(32 + n)
    headers = signed_headers(secret, "evt_1", "minted", "1700000000", BODY)
    assert verify_signature(secret, "1700000000", BODY, headers["Twinmark-Signature"])
    if any(c in secret.removeprefix("whsec_") for c in "-_"):
        assert "webhook-signature" not in headers
