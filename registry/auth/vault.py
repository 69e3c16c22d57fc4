"""Secrets sealed under the API key of the caller they belong to (claim secrets, provider signing keys).

The key is derived (HKDF-SHA256) from the full API key, which the service stores only as a SHA-256
hash, so what is at rest cannot be opened by the service alone: only while that caller is making a
request. AES-256-GCM authenticates the sealed blob and binds it to its context (`salt`).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from registry.errors import Forbidden


def _key(api_key: str, salt: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt.encode(), info=b"twinmark/vault/v1").derive(
        api_key.encode()
    )


def seal(api_key: str, salt: str, plaintext: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(_key(api_key, salt)).encrypt(nonce, plaintext, salt.encode())).decode()


def unseal(api_key: str, salt: str, sealed: str) -> bytes:
    try:
        raw = base64.b64decode(sealed, validate=True)
        return AESGCM(_key(api_key, salt)).decrypt(raw[:12], raw[12:], salt.encode())
    except (InvalidTag, ValueError):
        raise Forbidden("these secrets can only be opened with the API key that created them") from None
