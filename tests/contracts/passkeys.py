"""Account deployment and signing helpers for the passkey account's contract tests; the software
passkey itself (`Passkey`) lives in tests/support/webauthn.py, shared with the service's tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3.contract import Contract

from registry.chain import artifacts, passkeys, typed_data
from registry.chain.reverts import RevertDecoder
from tests.contracts.chain import Chain
from tests.support.webauthn import Passkey as Passkey


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
