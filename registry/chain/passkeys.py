"""What a `TwinmarkPasskeyAccount` checks, encoded in Python: the account's address before it exists, a
WebAuthn assertion in OpenZeppelin's `WebAuthnAuth` layout, the multisig envelope, the ERC-7739
`PersonalSign` wrap that binds an ERC-1271 signature to one account, and the `Execute` digest of
`executeBySig`. Pure functions: no node, no keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

# Order of the P-256 group; OpenZeppelin's P256 refuses s > N/2 (malleability), browsers do not care.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

ACCOUNT_DOMAIN_NAME = "Twinmark account"
ACCOUNT_DOMAIN_VERSION = "1"

# Authenticator data flags (WebAuthn §6.1).
FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS = 0x01, 0x04, 0x08, 0x10

# ERC-7579 mode: call type batch (0x01), exec type default (0x00), no selector or payload.
BATCH_MODE = bytes([1]) + bytes(31)

_DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_PERSONAL_SIGN_TYPEHASH = keccak(b"PersonalSign(bytes prefixed)")
EXECUTE_TYPEHASH = keccak(b"Execute(bytes32 mode,bytes32 executionDataHash,uint256 nonce,uint256 deadline)")

# ERC-1167 minimal proxy creation code around the implementation address (OpenZeppelin's Clones).
_CLONE_PREFIX = bytes.fromhex("3d602d80600a3d3981f3363d3d373d3d3d363d73")
_CLONE_SUFFIX = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")


def _address(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def clone_init_code(implementation: str) -> bytes:
    """Creation code of an ERC-1167 clone of `implementation`."""
    return _CLONE_PREFIX + _address(implementation) + _CLONE_SUFFIX


def predict_account(factory: str, implementation: str, qx: bytes, qy: bytes) -> str:
    """The account `factory.createAccount(qx, qy)` deploys, computed locally (CREATE2 of a clone)."""
    salt = keccak(encode(["bytes32", "bytes32"], [qx, qy]))
    digest = keccak(b"\xff" + _address(factory) + salt + keccak(clone_init_code(implementation)))
    return to_checksum_address(digest[12:])


def passkey_signer(verifier: str, qx: bytes, qy: bytes) -> bytes:
    """The ERC-7913 signer of a passkey: verifier address, then the key's x and y (84 bytes)."""
    return _address(verifier) + qx + qy


def low_s(s: int) -> int:
    """`s` or `N - s`, whichever is at most N/2: both verify, the account accepts only the low one."""
    return P256_N - s if s > P256_N // 2 else s


def der_signature(der: bytes) -> tuple[int, int]:
    """(r, s) of an ASN.1 DER ECDSA signature (what WebAuthn authenticators return), s made low."""
    r, s = decode_dss_signature(der)
    return r, low_s(s)


def webauthn_auth(
    r: int,
    s: int,
    authenticator_data: bytes,
    client_data_json: bytes,
    *,
    challenge_index: int | None = None,
    type_index: int | None = None,
) -> bytes:
    """OpenZeppelin's `WebAuthnAuth` as `abi.encode` of its six fields, flat (no outer tuple offset:
    that is what `WebAuthn.tryDecodeAuth` reads). The indices are found in the client data's raw
    bytes, never in a re-serialisation: authenticators differ in member order and extra members."""
    if challenge_index is None:
        challenge_index = client_data_json.find(b'"challenge":"')
    if type_index is None:
        type_index = client_data_json.find(b'"type":"')
    if challenge_index < 0 or type_index < 0:
        raise ValueError("client data without a type or a challenge")
    return encode(
        ["bytes32", "bytes32", "uint256", "uint256", "bytes", "string"],
        [
            r.to_bytes(32, "big"),
            s.to_bytes(32, "big"),
            challenge_index,
            type_index,
            authenticator_data,
            client_data_json.decode(),
        ],
    )


def multisig(signers: list[bytes], signatures: list[bytes]) -> bytes:
    """The account's signature envelope: `abi.encode(bytes[] signers, bytes[] signatures)`."""
    return encode(["bytes[]", "bytes[]"], [signers, signatures])


def account_domain_separator(chain_id: int, account: str) -> bytes:
    """EIP-712 domain separator of one account on one chain."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(ACCOUNT_DOMAIN_NAME.encode()),
                keccak(ACCOUNT_DOMAIN_VERSION.encode()),
                chain_id,
                account,
            ],
        )
    )


def personal_sign_wrap(digest: bytes, chain_id: int, account: str) -> bytes:
    """What a signer signs so that `account.isValidSignature(digest, …)` holds (ERC-7739
    `PersonalSign`): `digest` nested in the account's own domain."""
    struct = keccak(_PERSONAL_SIGN_TYPEHASH + digest)
    return keccak(b"\x19\x01" + account_domain_separator(chain_id, account) + struct)


def batch(calls: Sequence[tuple[str, int, bytes]]) -> bytes:
    """ERC-7579 batch execution data: `abi.encode(Execution[])`, each (target, value, calldata)."""
    return encode(["(address,uint256,bytes)[]"], [list(calls)])


def execute_digest(chain_id: int, account: str, mode: bytes, execution_data: bytes, nonce: int, deadline: int) -> bytes:
    """The EIP-712 digest a signer signs for `account.executeBySig(mode, execution_data, nonce, deadline, …)`."""
    struct = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "uint256"],
            [EXECUTE_TYPEHASH, mode, keccak(execution_data), nonce, deadline],
        )
    )
    return keccak(b"\x19\x01" + account_domain_separator(chain_id, account) + struct)


# EIP-6492: a signature of a contract not deployed yet ends with this magic suffix.
ERC6492_SUFFIX = bytes.fromhex("6492" * 16)
_CREATE_ACCOUNT_SELECTOR = keccak(b"createAccount(bytes32,bytes32)")[:4]


def create_account_calldata(qx: bytes, qy: bytes) -> bytes:
    """Calldata of `factory.createAccount(qx, qy)`."""
    return _CREATE_ACCOUNT_SELECTOR + encode(["bytes32", "bytes32"], [qx, qy])


def erc6492_signature(factory: str, qx: bytes, qy: bytes, signature: bytes) -> bytes:
    """An undeployed account's ERC-1271 `signature` wrapped for EIP-6492: a verifier (SIWE) first has
    the factory deploy the account inside its eth_call, then asks it."""
    return encode(["address", "bytes", "bytes"], [factory, create_account_calldata(qx, qy), signature]) + ERC6492_SUFFIX
