"""Who signed a SIWE message: an EOA (EIP-191 personal_sign), a deployed contract wallet (ERC-1271
`isValidSignature`) or a not-yet-deployed one (EIP-6492, when a validator is available).

EOA first, with no chain access; a contract wallet's answer comes from the chain the service reads,
at its head, so a wallet whose owners changed is judged by its current state.
"""

from __future__ import annotations

from typing import Protocol

from eth_account import Account
from eth_account.messages import defunct_hash_message, encode_defunct
from web3 import Web3

ERC1271_MAGIC = bytes.fromhex("1626ba7e")
ERC1271_SELECTOR = bytes(Web3.keccak(text="isValidSignature(bytes32,bytes)"))[:4]
ERC6492_SUFFIX = bytes.fromhex("6492" * 16)


class ChainCalls(Protocol):
    """The two reads contract-wallet checks need (implemented over the service's node)."""

    def code(self, address: str) -> bytes: ...

    def call(self, to: str | None, data: bytes) -> bytes | None:
        """The call's return data; None when the call reverted."""
        ...


def message_hash(text: str) -> bytes:
    """EIP-191 version 0x45 hash of `text` (what personal_sign signs and ERC-1271 wallets are asked about)."""
    return bytes(defunct_hash_message(text=text))


def recover_eoa(text: str, signature: bytes) -> str | None:
    """The address whose key made this 65-byte personal_sign signature; None if it is not one.
    A recovery byte of 0/1 (as some wallets and the official vectors give it) is read as 27/28."""
    if len(signature) != 65:
        return None
    v = signature[64]
    if v in (0, 1):
        signature = signature[:64] + bytes([v + 27])
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # malformed r/s/v (e.g. s above the curve order): not a signature of anyone
        return None


def _abi_bytes32_bytes(selector: bytes, word: bytes, blob: bytes) -> bytes:
    """`selector(bytes32, bytes)` call data, encoded by hand (two arguments, one dynamic)."""
    padded = blob + b"\x00" * (-len(blob) % 32)
    return selector + word + (64).to_bytes(32, "big") + len(blob).to_bytes(32, "big") + padded


def erc1271_valid(chain: ChainCalls, address: str, digest: bytes, signature: bytes) -> bool:
    """ERC-1271: the wallet at `address` answers `isValidSignature(digest, signature)` with 0x1626ba7e."""
    answer = chain.call(address, _abi_bytes32_bytes(ERC1271_SELECTOR, digest, signature))
    return answer is not None and len(answer) >= 32 and answer[:4] == ERC1271_MAGIC


def signed_by(
    chain: ChainCalls | None, address: str, text: str, signature: bytes, *, validator_6492: bytes | None = None
) -> str | None:
    """How `address` signed `text` ("eoa", "erc1271", "erc6492"), or None when it did not.

    `validator_6492` is the creation code of an EIP-6492 universal validator (its constructor takes
    (signer, hash, signature) and returns 0x01 when valid); without it, wrapped signatures are refused.
    """
    if signature.endswith(ERC6492_SUFFIX):
        if chain is None or validator_6492 is None:
            return None
        args = _abi_address_bytes32_bytes(address, message_hash(text), signature)
        answer = chain.call(None, validator_6492 + args)
        return "erc6492" if answer == b"\x01" else None
    recovered = recover_eoa(text, signature)
    if recovered is not None and recovered.lower() == address.lower():
        return "eoa"
    if chain is None or not chain.code(address):
        return None
    return "erc1271" if erc1271_valid(chain, address, message_hash(text), signature) else None


def _abi_address_bytes32_bytes(address: str, word: bytes, blob: bytes) -> bytes:
    padded = blob + b"\x00" * (-len(blob) % 32)
    head = bytes(12) + bytes.fromhex(address[2:]) + word + (96).to_bytes(32, "big")
    return head + len(blob).to_bytes(32, "big") + padded
