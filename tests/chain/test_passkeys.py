"""registry.chain.passkeys without a node: signatures made low-s, WebAuthnAuth laid out as OpenZeppelin
reads it, and the account address from CREATE2 arithmetic."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from eth_abi.abi import decode
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.chain import passkeys

AUTH_FIELDS = ["bytes32", "bytes32", "uint256", "uint256", "bytes", "string"]


def test_high_s_is_made_low_and_still_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    message = b"twinmark"
    for _ in range(40):  # about half of ECDSA signatures have s > N/2; meet a few of each
        r, s = passkeys.der_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
        assert s <= passkeys.P256_N // 2
        key.public_key().verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        high = passkeys.P256_N - s
        assert passkeys.low_s(high) == s
        assert passkeys.der_signature(encode_dss_signature(r, high)) == (r, s)
    with pytest.raises(InvalidSignature):  # the normalised pair is no signature of another message
        key.public_key().verify(encode_dss_signature(r, s), b"other", ec.ECDSA(hashes.SHA256()))


def test_webauthn_auth_is_six_flat_fields_with_indices_from_the_raw_bytes() -> None:
    client = b'{"origin":"https://a.example","challenge":"abc","type":"webauthn.get","x":"\\"type\\":\\""}'
    auth_data = hashlib.sha256(b"a.example").digest() + b"\x05" + bytes(4)
    encoded = passkeys.webauthn_auth(1, 2, auth_data, client)
    # Flat: the first word is r itself, not an offset to a tuple.
    assert encoded[:32] == (1).to_bytes(32, "big")
    r, s, challenge_index, type_index, data, text = decode(AUTH_FIELDS, encoded)
    assert (int.from_bytes(r, "big"), int.from_bytes(s, "big")) == (1, 2)
    assert client[challenge_index:].startswith(b'"challenge":"abc"')
    assert client[type_index:].startswith(b'"type":"webauthn.get"')
    assert (data, text) == (auth_data, client.decode())
    with pytest.raises(ValueError):
        passkeys.webauthn_auth(1, 2, auth_data, b'{"type":"webauthn.get"}')


@settings(max_examples=50, deadline=None)
@given(qx=st.binary(min_size=32, max_size=32), qy=st.binary(min_size=32, max_size=32))
def test_predicted_address_is_create2_of_the_clone_with_the_key_as_salt(qx: bytes, qy: bytes) -> None:
    factory, implementation = "0x" + "ab" * 20, "0x" + "cd" * 20
    address = passkeys.predict_account(factory, implementation, qx, qy)
    code = passkeys.clone_init_code(implementation)
    assert len(code) == 55 and code[20:40] == bytes.fromhex("cd" * 20)
    salt = keccak(qx + qy)
    assert address.lower() == "0x" + keccak(b"\xff" + bytes.fromhex("ab" * 20) + salt + keccak(code))[12:].hex()
    assert passkeys.predict_account(factory, implementation, qy, qx) != address or qx == qy


def test_the_personal_sign_wrap_names_the_account_and_the_chain() -> None:
    digest = bytes(range(32))
    one = passkeys.personal_sign_wrap(digest, 31337, "0x" + "11" * 20)
    assert one != passkeys.personal_sign_wrap(digest, 1, "0x" + "11" * 20)
    assert one != passkeys.personal_sign_wrap(digest, 31337, "0x" + "22" * 20)
    assert one != digest
