"""The shared software passkey (tests/support/webauthn.py) against py_webauthn, the library the service
checks ceremonies with: its registration gives the key the account is made of, and one assertion is
both a credential py_webauthn accepts and the `WebAuthnAuth` the account contract reads. No node."""

from __future__ import annotations

import json

import pytest
from eth_abi.abi import decode
from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import decode_credential_public_key
from webauthn.helpers.exceptions import InvalidAuthenticationResponse

from registry.chain import passkeys
from tests.support.webauthn import ORIGIN, RP_ID, Passkey, b64url

CHALLENGE = bytes(range(32))


def test_registration_gives_the_key_the_account_is_made_of() -> None:
    key = Passkey()
    verified = verify_registration_response(
        credential=json.dumps(key.registration(CHALLENGE)),
        expected_challenge=CHALLENGE,
        expected_origin=ORIGIN,
        expected_rp_id=RP_ID,
        require_user_verification=True,
    )
    assert verified.credential_id == key.credential_id
    public = decode_credential_public_key(verified.credential_public_key)
    assert (public.x, public.y) == (key.qx, key.qy)  # type: ignore[union-attr]


def test_one_assertion_serves_py_webauthn_and_the_account() -> None:
    key = Passkey()
    made = key.assertion_parts(CHALLENGE)
    verify_authentication_response(
        credential=json.dumps(key.authentication_json(made)),
        expected_challenge=CHALLENGE,
        expected_origin=ORIGIN,
        expected_rp_id=RP_ID,
        credential_public_key=key.cose_key(),
        credential_current_sign_count=0,
        require_user_verification=True,
    )
    # The same assertion laid out for the contract: (r, low s) of the DER signature, and indices into
    # the very client data bytes py_webauthn checked.
    r, s, challenge_index, type_index, auth_data, client = decode(
        ["bytes32", "bytes32", "uint256", "uint256", "bytes", "string"], made.auth()
    )
    assert (int.from_bytes(r, "big"), int.from_bytes(s, "big")) == passkeys.der_signature(made.signature)
    assert (auth_data, client.encode()) == (made.authenticator_data, made.client_data_json)
    assert client.encode()[challenge_index:].startswith(f'"challenge":"{b64url(CHALLENGE)}"'.encode())
    assert client.encode()[type_index:].startswith(b'"type":"webauthn.get"')

    # Another origin, or no user verification, is refused by the library before any chain work.
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication_response(
            credential=json.dumps(key.authentication(CHALLENGE, origin="https://evil.example")),
            expected_challenge=CHALLENGE,
            expected_origin=ORIGIN,
            expected_rp_id=RP_ID,
            credential_public_key=key.cose_key(),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication_response(
            credential=json.dumps(key.authentication(CHALLENGE, flags=passkeys.FLAG_UP)),
            expected_challenge=CHALLENGE,
            expected_origin=ORIGIN,
            expected_rp_id=RP_ID,
            credential_public_key=key.cose_key(),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
