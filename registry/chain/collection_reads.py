"""A twin collection's state as its contract answers it: batches, twins, the transfer policy, the
brand standing mirrored into it, links and provider nonces. The reads half of `TwinmarkChain`, which
supplies `collection` (the contract at an address) and `call` (an `eth_call` with its errors decoded)."""

from __future__ import annotations

from typing import Any

from web3.contract import Contract

from registry.chain.report import OnChainBatch, OnChainTwin
from registry.errors import ContractReverted


class CollectionReads:
    def collection(self, address: str) -> Contract:
        raise NotImplementedError

    def call(self, fn: Any) -> Any:
        raise NotImplementedError

    def next_batch_id(self, collection: str) -> int:
        return int(self.call(self.collection(collection).functions.nextBatchId()))

    def batch(self, collection: str, batch_id: int) -> OnChainBatch:
        header, anchor, claim_root = self.call(self.collection(collection).functions.batch(batch_id))
        return OnChainBatch(header[0], header[1], header[2], header[3], bytes(anchor), bytes(claim_root))

    def twin(self, collection: str, token_id: int) -> OnChainTwin | None:
        """The twin as the chain knows it, or None when it does not exist (or was burned)."""
        try:
            t = self.call(self.collection(collection).functions.twin(token_id))
        except ContractReverted as exc:
            if exc.name == "ERC721NonexistentToken":
                return None
            raise
        return OnChainTwin(*t)

    def transfer_policy(self, collection: str) -> tuple[int, int, int]:
        """The collection's (TransferPolicy, sender hold, recipient hold), holds in seconds."""
        policy, sender, recipient = self.call(self.collection(collection).functions.transferPolicy())
        return int(policy), int(sender), int(recipient)

    def movable_from(self, collection: str, token_id: int) -> int:
        """Earliest block time its owner may hand the twin on: 0 any time, 2**256-1 never."""
        return int(self.call(self.collection(collection).functions.movableFrom(token_id)))

    def is_burned(self, collection: str, token_id: int) -> bool:
        return bool(self.call(self.collection(collection).functions.isBurned(token_id)))

    def brand_flags(self, collection: str) -> int:
        """The brand standing mirrored into the collection: bit 0 suspended, bit 1 compromised."""
        return int(self.call(self.collection(collection).functions.brand())[2])

    def link_of(self, collection: str, token_id: int) -> tuple[str, int]:
        address, physical_token = self.call(self.collection(collection).functions.linkOf(token_id))
        return str(address), int(physical_token)

    def provider_nonce(self, collection: str, provider: str) -> int:
        return int(self.call(self.collection(collection).functions.providerNonce(provider)))
