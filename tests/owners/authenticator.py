"""A software authenticator for the service's passkey ceremonies: registration (attestation "none")
and assertions as `PublicKeyCredential.toJSON()` gives them to the page, over the shared software
passkey (tests/support/webauthn.py), so py_webauthn and the account contract check real ES256."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import cbor2

from registry.chain import passkeys
from tests.support.webauthn import Passkey, b64url

FLAG_AT = 0x40  # attested credential data included (registration)


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Authenticator:
    """One passkey on one device: its key, credential id, user handle and counter."""

    origin: str
    key: Passkey = field(default_factory=Passkey)
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    user_handle: bytes | None = None
    count: int = 0
    backed_up: bool = False

    @property
    def rp_id(self) -> str:
        return self.origin.split("://", 1)[1].split(":", 1)[0]

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _flags(self, uv: bool) -> int:
        flags = passkeys.FLAG_UP | (passkeys.FLAG_UV if uv else 0)
        return flags | ((passkeys.FLAG_BE | passkeys.FLAG_BS) if self.backed_up else 0)

    def register(self, options: dict[str, Any], *, origin: str | None = None, uv: bool = True) -> dict[str, Any]:
        """The answer to `navigator.credentials.create` with these creation options (JSON)."""
        self.user_handle = unb64url(options["user"]["id"])
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: self.key.qx, -3: self.key.qy})
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + cose
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        auth_data = rp_hash + bytes([self._flags(uv) | FLAG_AT]) + self.count.to_bytes(4, "big") + attested
        client = {
            "type": "webauthn.create",
            "challenge": options["challenge"],
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(json.dumps(client, separators=(",", ":")).encode()),
                "attestationObject": b64url(cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def answer(self, challenge: bytes, *, origin: str | None = None, uv: bool = True) -> dict[str, Any]:
        """The answer to `navigator.credentials.get` for `challenge` (the counter moves)."""
        self.count += 1
        made = self.key.assertion_parts(
            challenge, flags=self._flags(uv), origin=origin or self.origin, rp_id=self.rp_id, sign_count=self.count
        )
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(made.client_data_json),
                "authenticatorData": b64url(made.authenticator_data),
                "signature": b64url(made.signature),
                **({"userHandle": b64url(self.user_handle)} if self.user_handle else {}),
            },
            "clientExtensionResults": {},
        }

    def assert_options(self, options: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return self.answer(unb64url(options["challenge"]), **kw)
