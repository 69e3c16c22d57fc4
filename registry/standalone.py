"""The standalone verifier: a second composition root, for `twinmark verify` and anyone checking a twin
with no Twinmark server (the chain through any RPC, content from any trustless gateway, no database)."""

from __future__ import annotations

from web3 import Web3

from registry.chain.deploy import find_deployment_block
from registry.chain.node import connect
from registry.chain.reads import ChainReader
from registry.errors import ConfigurationError
from registry.ipfs.gateway_client import GatewayStore
from registry.verify.service import Verifier


class _LiveHead:
    """The chain head, read when asked (a standalone verifier runs once, no watcher thread)."""

    def __init__(self, reader: ChainReader) -> None:
        self._reader = reader

    @property
    def block(self) -> int:
        return self._reader.block_number()


def standalone_verifier(rpc_url: str, registry: str, gateway: str, *, from_block: int | None = None) -> Verifier:
    """A verifier that trusts nothing of this service: the chain through `rpc_url`, content from any
    trustless gateway (every block hashed here), no database (the history comes from the chain)."""
    w3 = connect(rpc_url)
    if not w3.eth.get_code(Web3.to_checksum_address(registry)):
        raise ConfigurationError(f"no contract at {registry} on {rpc_url}")
    start = from_block if from_block is not None else find_deployment_block(w3, registry)
    reader = ChainReader(w3, registry, from_block=start)
    store = GatewayStore(gateway)
    return Verifier(reader, store, _LiveHead(reader), gateway_base=store.prefix)
