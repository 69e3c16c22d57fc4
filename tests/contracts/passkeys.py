"""A software passkey for contract tests: a P-256 key that makes WebAuthn assertions the way an
authenticator and a browser do (authenticator data, client data JSON, ES256 over both), so the account
contract checks real signatures without a browser. Also the account deployment helpers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3.contract import Contract

from registry.chain import artifacts, passkeys, typed_data
from registry.chain.reverts import RevertDecoder
from tests.contracts.chain import Chain

ORIGIN = "https://twinmark.example"
RP_ID = "twinmark.example"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Passkey:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def qx(self) -> bytes:
        return self.key.public_key().public_numbers().x.to_bytes(32, "big")

    @property
    def qy(self) -> bytes:
        return self.key.public_key().public_numbers().y.to_bytes(32, "big")

    def signer(self, verifier: str) -> bytes:
        return passkeys.passkey_signer(verifier, self.qx, self.qy)

    def assertion(
        self,
        challenge: bytes,
        *,
        flags: int = passkeys.FLAG_UP | passkeys.FLAG_UV,
        kind: str = "webauthn.get",
        signed_challenge: bytes | None = None,
        high_s: bool = False,
        challenge_index: int | None = None,
        reordered: bool = False,
    ) -> bytes:
        """An encoded `WebAuthnAuth` over `challenge`. `signed_challenge` puts another challenge in the
        client data (what a page asking for something else would get signed); `high_s` leaves s above
        N/2 (valid ECDSA, refused by the account); `reordered` writes the client data as some
        authenticators and Chrome do: other member order, and an extra member."""
        client: dict[str, Any] = {
            "type": kind,
            "challenge": b64url(signed_challenge if signed_challenge is not None else challenge),
            "origin": ORIGIN,
            "crossOrigin": False,
        }
        if reordered:
            client = {
                "origin": ORIGIN,
                "challenge": client["challenge"],
                "other_keys_can_be_added_here": 'do not compare clientDataJSON against a template! "type":"x"',
                "type": kind,
            }
        client_data = json.dumps(client, separators=(",", ":")).encode()
        auth_data = hashlib.sha256(RP_ID.encode()).digest() + bytes([flags]) + (7).to_bytes(4, "big")
        der = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        r, s = passkeys.der_signature(der)
        if high_s:
            s = passkeys.P256_N - s
        return passkeys.webauthn_auth(r, s, auth_data, client_data, challenge_index=challenge_index)


def install_decoder(chain: Chain) -> None:
    """Lets `chain.send` name the account's and factory's custom errors too."""
    names = ("TwinmarkRegistry", "TwinmarkCollection", "TwinmarkPasskeyAccount", "TwinmarkAccountFactory")
    chain.decoder = RevertDecoder([artifacts.load(n).abi for n in names])


def deploy_factory(chain: Chain, sender: str) -> Contract:
    return chain.deploy(artifacts.load("TwinmarkAccountFactory"), sender)


def account_at(chain: Chain, address: str) -> Contract:
    return chain.contract(address, artifacts.load("TwinmarkPasskeyAccount").abi)


def create_account(chain: Chain, factory: Contract, key: Passkey, sender: str) -> Contract:
    chain.send(factory.functions.createAccount(key.qx, key.qy), sender)
    return account_at(chain, factory.functions.predict(key.qx, key.qy).call())


def erc1271_signature(chain: Chain, account: str, verifier: str, key: Passkey, digest: bytes, **kw: Any) -> bytes:
    """The account's ERC-1271 signature of `digest` by `key`: an assertion over the ERC-7739 wrap."""
    wrapped = passkeys.personal_sign_wrap(digest, chain.chain_id, account)
    return passkeys.multisig([key.signer(verifier)], [key.assertion(wrapped, **kw)])


def execute_args(
    chain: Chain,
    account: Contract,
    verifier: str,
    key: Passkey,
    calls: Sequence[tuple[str, int, bytes]],
    *,
    nonce: int | None = None,
    deadline: int | None = None,
    chain_id: int | None = None,
    signed_for: str | None = None,
    **kw: Any,
) -> tuple[bytes, bytes, int, int, bytes]:
    """Arguments of `account.executeBySig` for `calls`, signed by `key` (overrides make refusals)."""
    data = passkeys.batch(calls)
    nonce = account.functions.nonces(account.address).call() if nonce is None else nonce
    deadline = chain.now() + 3600 if deadline is None else deadline
    digest = passkeys.execute_digest(
        chain_id or chain.chain_id, signed_for or account.address, passkeys.BATCH_MODE, data, nonce, deadline
    )
    signature = passkeys.multisig([key.signer(verifier)], [key.assertion(digest, **kw)])
    return passkeys.BATCH_MODE, data, nonce, deadline, signature


def transfer_digest(chain: Chain, collection: str, to: str, token: int, nonce: int, deadline: int) -> bytes:
    """The collection's EIP-712 digest of a `TransferTwin`: what `isValidSignature` is asked about."""
    payload = typed_data.typed_data(
        "TransferTwin",
        chain.chain_id,
        collection,
        {"to": to, "tokenId": token, "nonce": nonce, "deadline": deadline},
    )
    return typed_digest(payload)


def typed_digest(payload: dict[str, Any]) -> bytes:
    """The EIP-712 digest of a full typed-data payload (what an ERC-1271 wallet is asked about)."""
    message = encode_typed_data(full_message=payload)
    return keccak(b"\x19" + message.version + message.header + message.body)
