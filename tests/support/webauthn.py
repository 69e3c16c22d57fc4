"""A software passkey: a P-256 key (`cryptography`) that makes WebAuthn credentials the way an
authenticator and a browser do (authenticator data, client data JSON, ES256 over both), so contracts
and the service check real signatures without a browser.

- `assertion` gives OpenZeppelin's flat `WebAuthnAuth` (what the account contract reads);
  `assertion_parts` the raw pieces the browser hands the page.
- `registration` and `authentication` give the JSON a page posts (`PublicKeyCredential.toJSON()`),
  which py_webauthn's `verify_registration_response` / `verify_authentication_response` take.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from registry.chain import passkeys

ORIGIN = "https://twinmark.example"
RP_ID = "twinmark.example"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


FLAG_AT = 0x40  # attested credential data present (registration)


@dataclass
class Passkey:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    user_handle: bytes = field(default_factory=lambda: os.urandom(32))

    @property
    def qx(self) -> bytes:
        return self.key.public_key().public_numbers().x.to_bytes(32, "big")

    @property
    def qy(self) -> bytes:
        return self.key.public_key().public_numbers().y.to_bytes(32, "big")

    def signer(self, verifier: str) -> bytes:
        return passkeys.passkey_signer(verifier, self.qx, self.qy)

    def cose_key(self) -> bytes:
        """The public key as COSE (EC2, ES256, P-256), as in attested credential data."""
        return bytes(cbor2.dumps({1: 2, 3: -7, -1: 1, -2: self.qx, -3: self.qy}))

    def registration(
        self,
        challenge: bytes,
        *,
        origin: str = ORIGIN,
        rp_id: str = RP_ID,
        flags: int = passkeys.FLAG_UP | passkeys.FLAG_UV,
    ) -> dict[str, Any]:
        """`navigator.credentials.create` answered by this passkey ("none" attestation), as JSON."""
        client = {"type": "webauthn.create", "challenge": b64url(challenge), "origin": origin, "crossOrigin": False}
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self.cose_key()
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags | FLAG_AT]) + bytes(4) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._credential(
            {
                "clientDataJSON": b64url(json.dumps(client, separators=(",", ":")).encode()),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            }
        )

    def authentication(self, challenge: bytes, **parts: Any) -> dict[str, Any]:
        """`navigator.credentials.get` answered by this passkey (options of `assertion_parts`), as JSON."""
        return self.authentication_json(self.assertion_parts(challenge, **parts))

    def authentication_json(self, made: Assertion) -> dict[str, Any]:
        """An assertion of this passkey as the JSON the page posts (`made.auth()` is the same
        assertion as the contract reads it)."""
        return self._credential(
            {
                "authenticatorData": b64url(made.authenticator_data),
                "clientDataJSON": b64url(made.client_data_json),
                "signature": b64url(made.signature),
                "userHandle": b64url(self.user_handle),
            }
        )

    def _credential(self, response: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def assertion_parts(
        self,
        challenge: bytes,
        *,
        flags: int = passkeys.FLAG_UP | passkeys.FLAG_UV,
        kind: str = "webauthn.get",
        signed_challenge: bytes | None = None,
        reordered: bool = False,
        origin: str = ORIGIN,
        rp_id: str = RP_ID,
        sign_count: int = 7,
    ) -> Assertion:
        """What an authenticator and the browser return for `navigator.credentials.get` with
        `challenge`. `signed_challenge` puts another challenge in the client data (what a page asking
        for something else would get signed); `reordered` writes the client data as some
        authenticators and Chrome do: other member order, and an extra member."""
        client: dict[str, Any] = {
            "type": kind,
            "challenge": b64url(signed_challenge if signed_challenge is not None else challenge),
            "origin": origin,
            "crossOrigin": False,
        }
        if reordered:
            client = {
                "origin": origin,
                "challenge": client["challenge"],
                "other_keys_can_be_added_here": 'do not compare clientDataJSON against a template! "type":"x"',
                "type": kind,
            }
        client_data = json.dumps(client, separators=(",", ":")).encode()
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + sign_count.to_bytes(4, "big")
        der = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return Assertion(auth_data, client_data, der)

    def assertion(
        self,
        challenge: bytes,
        *,
        high_s: bool = False,
        challenge_index: int | None = None,
        **parts: Any,
    ) -> bytes:
        """An encoded `WebAuthnAuth` over `challenge` (options of `assertion_parts`). `high_s` leaves s
        above N/2 (valid ECDSA, refused by the account)."""
        made = self.assertion_parts(challenge, **parts)
        return made.auth(high_s=high_s, challenge_index=challenge_index)


@dataclass(frozen=True)
class Assertion:
    """A WebAuthn assertion as the browser hands it over: authenticator data, client data JSON and
    the DER ECDSA signature over `authenticator_data || sha256(client_data_json)`."""

    authenticator_data: bytes
    client_data_json: bytes
    signature: bytes

    def auth(self, *, high_s: bool = False, challenge_index: int | None = None) -> bytes:
        """OpenZeppelin's flat `WebAuthnAuth` of this assertion (s made low unless `high_s`)."""
        r, s = passkeys.der_signature(self.signature)
        if high_s:
            s = passkeys.P256_N - s
        return passkeys.webauthn_auth(
            r, s, self.authenticator_data, self.client_data_json, challenge_index=challenge_index
        )
