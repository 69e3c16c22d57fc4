"""API keys: `{kind}_{prefix}_{secret}`. The prefix names the record; only SHA-256(secret) is stored,
and checks compare hashes in constant time (also when the prefix is unknown)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_SHAPE = re.compile(r"^(tmk|tmp)_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret_hash: str
    text: str  # shown to its holder once


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(kind: str) -> NewKey:
    """`kind` is `tmk` (brands, providers) or `tmp` (partners)."""
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return NewKey(prefix, secret_hash(secret), f"{kind}_{prefix}_{secret}")


def parse(text: str, kind: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key of this kind."""
    match = _SHAPE.fullmatch(text)
    return (match.group(2), match.group(3)) if match and match.group(1) == kind else None


def matches(stored_hash: str | None, secret: str | None) -> bool:
    """Constant-time check; a missing record or malformed key still costs one comparison."""
    expected = stored_hash if stored_hash is not None else secret_hash("")
    return hmac.compare_digest(expected, secret_hash(secret if secret is not None else "x")) and stored_hash is not None
