"""Secrets sealed under the API key of the caller they belong to (claim secrets, provider signing keys).

The key is derived (HKDF-SHA256) from the full API key, which the service stores only as a SHA-256
hash, so what is at rest cannot be opened by the service alone: only while that caller is making a
request. AES-256-GCM authenticates the sealed blob and binds it to its context (`salt`).
"""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from registry.errors import Forbidden
from registry.secret_files import read_or_create
from registry.settings import Settings


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


def server_key(settings: Settings) -> str:
    """The service's own key for secrets it must be able to open by itself (webhook signing secrets):
    `TWINMARK_SECRET_KEY`, or generated once into the data dir (mode 0600). Losing it makes those
    secrets unreadable; their subscriptions must then be re-created."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    return read_or_create(settings.data_dir / "server-key", lambda: base64.b64encode(secrets.token_bytes(32)).decode())
