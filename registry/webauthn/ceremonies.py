"""The relying party and the py_webauthn calls both passkey doors make (staff in `registry.staff`,
owners in `registry.owners`): one place says how options are made and answers are checked.

The relying party is `settings.base_url`: its host is the RP id, its origin the only origin accepted.
User verification is required in every ceremony. py_webauthn's refusals (and malformed JSON it trips
on) become `CeremonyFailed` with its message; each door maps that to its own problem type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration


class CeremonyFailed(Exception):
    """py_webauthn (or the answer's shape) refused a ceremony; the message says why."""


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host of base_url
    origin: str  # scheme://host[:port]

    @classmethod
    def of(cls, base_url: str) -> RelyingParty:
        parts = urlsplit(base_url)
        return cls(id=parts.hostname or "localhost", origin=f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class Ceremony:
    challenge_id: str
    options: dict[str, Any]  # PublicKeyCredential{Creation,Request}OptionsJSON, for parse*FromJSON


@dataclass(frozen=True)
class Options:
    challenge: str  # base64url, to store with the ceremony
    json: dict[str, Any]


def registration_options(
    rp: RelyingParty,
    rp_name: str,
    user_name: str,
    user_id: bytes,
    *,
    algorithms: list[COSEAlgorithmIdentifier] | None = None,
    exclude: list[bytes] | None = None,
) -> Options:
    """Creation options for a discoverable credential (sign-in asks for no name), UV required,
    no attestation (nobody here judges authenticator makes)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp_name,
        user_name=user_name,
        user_id=user_id,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        supported_pub_key_algs=algorithms,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in exclude or []],
    )
    return Options(bytes_to_base64url(options.challenge), json.loads(options_to_json(options)))


def authentication_options(
    rp: RelyingParty, allow: list[bytes] | None = None, challenge: bytes | None = None
) -> Options:
    """Request options, UV required: usernameless when `allow` is None; `challenge` when the thing to
    sign is fixed (a chain digest), else random."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        user_verification=UserVerificationRequirement.REQUIRED,
        allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in allow] if allow is not None else None,
    )
    return Options(bytes_to_base64url(options.challenge), json.loads(options_to_json(options)))


def check_registration(
    rp: RelyingParty,
    challenge: str,
    credential: dict[str, Any],
    *,
    algorithms: list[COSEAlgorithmIdentifier] | None = None,
) -> VerifiedRegistration:
    extra: dict[str, Any] = {"supported_pub_key_algs": algorithms} if algorithms is not None else {}
    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
            **extra,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise CeremonyFailed(str(exc)) from None


def check_assertion(
    rp: RelyingParty, challenge: bytes, credential: dict[str, Any], public_key: bytes, sign_count: int
) -> VerifiedAuthentication:
    try:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise CeremonyFailed(str(exc)) from None


def transports(credential: dict[str, Any]) -> str | None:
    """The transports the browser reported at registration, comma-separated (hints for later sign-ins)."""
    response = credential.get("response")
    found = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(found, list):
        return None
    return ",".join(t for t in found if isinstance(t, str))[:200]


def user_handle(credential: dict[str, Any]) -> str | None:
    response = credential.get("response")
    handle = response.get("userHandle") if isinstance(response, dict) else None
    return handle if isinstance(handle, str) else None


def credential_id(credential: dict[str, Any]) -> str | None:
    """The answer's credential id (base64url), if it is one of a sane size."""
    raw = credential.get("id") if isinstance(credential, dict) else None
    return raw if isinstance(raw, str) and 0 < len(raw) <= 1400 else None
