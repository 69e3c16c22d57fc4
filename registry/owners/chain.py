"""What owners' passkeys need of the chain client (`registry.chain.client.TwinmarkChain` has it)."""

from __future__ import annotations

from typing import Protocol


class PasskeyChain(Protocol):
    @property
    def chain_id(self) -> int: ...

    def passkey_account(self, qx: bytes, qy: bytes) -> str: ...

    def account_has_signer(self, account: str, qx: bytes, qy: bytes) -> bool: ...
