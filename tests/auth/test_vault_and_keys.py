"""The vault (secrets sealed under a caller's API key) and API keys (shape, parsing, hashed checks)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from registry.auth import keys
from registry.auth.vault import seal, unseal
from registry.errors import Forbidden

API_KEY = keys.new_key("tmk").text
SALT = "claims:job-1"
PLAINTEXT = b'[{"secret": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "claim_key": "0x1234"}]'


# ---------------------------------------------------------------- vault


def _raw(sealed: str) -> bytes:
    return base64.b64decode(sealed)


def test_seal_then_unseal_round_trips() -> None:
    """What is sealed under (key, salt) opens with the same key and salt, byte for byte."""
    assert unseal(API_KEY, SALT, seal(API_KEY, SALT, PLAINTEXT)) == PLAINTEXT
    assert unseal(API_KEY, SALT, seal(API_KEY, SALT, b"")) == b""
    large = bytes(range(256)) * 400
    assert unseal(API_KEY, SALT, seal(API_KEY, SALT, large)) == large


def test_another_api_key_cannot_open() -> None:
    """A different API key (even of the same brand's shape) gets Forbidden, not the secrets."""
    sealed = seal(API_KEY, SALT, PLAINTEXT)
    for other in (keys.new_key("tmk").text, API_KEY[:-1] + ("A" if API_KEY[-1] != "A" else "B"), ""):
        with pytest.raises(Forbidden, match="API key that created them"):
            unseal(other, SALT, sealed)


def test_the_salt_binds_a_blob_to_its_context() -> None:
    """A blob sealed for one job cannot be opened as another job's (or another purpose's) secrets."""
    sealed = seal(API_KEY, SALT, PLAINTEXT)
    for other in ("claims:job-2", "provider-key:job-1", "claims:job-1 ", ""):
        with pytest.raises(Forbidden):
            unseal(API_KEY, other, sealed)


def test_tampering_is_detected() -> None:
    """Flipping any single byte (nonce, ciphertext or tag) or truncating the blob makes it unopenable."""
    raw = _raw(seal(API_KEY, SALT, PLAINTEXT))
    for i in (0, 11, 12, 12 + len(PLAINTEXT) // 2, len(raw) - 1):
        tampered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises(Forbidden):
            unseal(API_KEY, SALT, base64.b64encode(tampered).decode())
    with pytest.raises(Forbidden):
        unseal(API_KEY, SALT, base64.b64encode(raw[:-1]).decode())


def test_each_seal_uses_a_fresh_nonce() -> None:
    """Sealing the same plaintext twice gives different blobs (random 96-bit nonce); both open."""
    blobs = {seal(API_KEY, SALT, PLAINTEXT) for _ in range(20)}
    assert len(blobs) == 20
    assert len({_raw(b)[:12] for b in blobs}) == 20
    assert all(unseal(API_KEY, SALT, b) == PLAINTEXT for b in blobs)


def test_the_blob_carries_neither_the_key_nor_the_plaintext() -> None:
    """The sealed blob holds nonce + ciphertext + 16-byte tag, and no trace of the API key or the secrets."""
    sealed = seal(API_KEY, SALT, PLAINTEXT)
    raw = _raw(sealed)
    assert len(raw) == 12 + len(PLAINTEXT) + 16
    _, prefix, secret = API_KEY.split("_", 2)
    for text in (API_KEY, prefix, secret):
        assert text not in sealed
        assert text.encode() not in raw
    assert b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" not in raw and b"claim_key" not in raw


# ---------------------------------------------------------------- API keys


@pytest.mark.parametrize("kind", ["tmk", "tmp"])
def test_new_key_shape(kind: str) -> None:
    """`{kind}_{12 hex}_{43 url-safe}`; the stored hash is SHA-256 of the secret part, never the key text."""
    made = keys.new_key(kind)
    assert re.fullmatch(rf"{kind}_[0-9a-f]{{12}}_[A-Za-z0-9_-]{{43}}", made.text)
    _, prefix, secret = made.text.split("_", 2)
    assert made.prefix == prefix
    assert made.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert made.secret_hash not in made.text and secret not in made.secret_hash
    assert made.text != made.secret_hash


def test_new_keys_are_unique() -> None:
    """Prefixes and secrets are drawn fresh each time."""
    made = [keys.new_key("tmk") for _ in range(50)]
    assert len({m.prefix for m in made}) == 50 and len({m.text for m in made}) == 50


def test_parse_accepts_only_well_formed_keys_of_its_kind() -> None:
    """parse returns (prefix, secret) for the right kind only; other kinds and malformed text give None."""
    brand, partner = keys.new_key("tmk"), keys.new_key("tmp")
    _, prefix, secret = brand.text.split("_", 2)
    assert keys.parse(brand.text, "tmk") == (prefix, secret)
    assert keys.parse(partner.text, "tmp") == tuple(partner.text.split("_", 2)[1:])
    assert keys.parse(brand.text, "tmp") is None
    assert keys.parse(partner.text, "tmk") is None
    malformed = [
        "",
        brand.text[:-1],  # secret one character short
        brand.text + "A",  # one character long
        f"tmk_{prefix[:-1]}G_{secret}",  # prefix not lower-case hex
        f"tmk_{prefix[:-1]}_{secret}",  # prefix too short
        f"tmx_{prefix}_{secret}",
        f"Bearer {brand.text}",
        f"tmk_{prefix}_{secret[:-1]}=",  # '=' is not URL-safe base64 without padding
        f" {brand.text}",
    ]
    for text in malformed:
        assert keys.parse(text, "tmk") is None, text


def test_matches_only_the_right_secret() -> None:
    """matches is True for the secret whose hash is stored, False for a wrong or missing secret and for
    an unknown record (no stored hash), including the empty secret whose hash stands in for it."""
    made = keys.new_key("tmk")
    secret = made.text.split("_", 2)[2]
    assert keys.matches(made.secret_hash, secret)
    assert not keys.matches(made.secret_hash, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert not keys.matches(made.secret_hash, made.text)  # the whole key text is not the secret
    assert not keys.matches(made.secret_hash, made.secret_hash)  # nor is the hash itself
    assert not keys.matches(made.secret_hash, None)
    assert not keys.matches(None, secret)
    assert not keys.matches(None, "")  # the placeholder hash compares equal, yet no record means no match
    assert not keys.matches(None, None)
    assert keys.secret_hash(secret) == made.secret_hash
