"""A device holding one software passkey (tests/support/webauthn.py) as the service's ceremonies meet
it: it answers the creation and request options the API hands out, keeps its counter, and can lie
about its origin or its user's verification, or say it is synced (BE/BS)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from registry.chain import passkeys
from tests.support.webauthn import Passkey, b64url


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Authenticator:
    origin: str
    key: Passkey = field(default_factory=Passkey)
    count: int = 0
    backed_up: bool = False

    @property
    def rp_id(self) -> str:
        return self.origin.split("://", 1)[1].split(":", 1)[0]

    @property
    def id(self) -> str:
        return b64url(self.key.credential_id)

    def _flags(self, uv: bool) -> int:
        flags = passkeys.FLAG_UP | (passkeys.FLAG_UV if uv else 0)
        return flags | ((passkeys.FLAG_BE | passkeys.FLAG_BS) if self.backed_up else 0)

    def register(self, options: dict[str, Any], *, origin: str | None = None, uv: bool = True) -> dict[str, Any]:
        """The answer to `navigator.credentials.create` with these creation options (JSON)."""
        self.key.user_handle = unb64url(options["user"]["id"])
        return self.key.registration(
            unb64url(options["challenge"]), origin=origin or self.origin, rp_id=self.rp_id, flags=self._flags(uv)
        )

    def answer(self, challenge: bytes, *, origin: str | None = None, uv: bool = True) -> dict[str, Any]:
        """The answer to `navigator.credentials.get` for `challenge` (the counter moves)."""
        self.count += 1
        return self.key.authentication(
            challenge, flags=self._flags(uv), origin=origin or self.origin, rp_id=self.rp_id, sign_count=self.count
        )

    def assert_options(self, options: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return self.answer(unb64url(options["challenge"]), **kw)
