"""delegate.xyz v2: a cold wallet (the vault) delegates to a hot wallet, which then sees and redeems
the privileges of the vault's twins. Read from the registry by `eth_call` at the head, through the
chain's gas-capped call (`NodeReads.capped_call`): a registry address with no code answers empty
bytes, which is no delegation."""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from web3 import Web3

from registry.chain.node_reads import NodeReads

CALL_GAS = 200_000  # a check is a few storage reads
NO_RIGHTS = b"\x00" * 32  # delegate.xyz's "all rights"


def _selector(signature: str) -> bytes:
    return bytes(Web3.keccak(text=signature))[:4]


_FOR_ALL = _selector("checkDelegateForAll(address,address,bytes32)")
_FOR_CONTRACT = _selector("checkDelegateForContract(address,address,address,bytes32)")
_FOR_ERC721 = _selector("checkDelegateForERC721(address,address,address,uint256,bytes32)")


def _ask(chain: NodeReads, registry: str, data: bytes) -> bool:
    answer = chain.capped_call(registry, data, gas=CALL_GAS)
    if not answer or len(answer) != 32:
        return False  # no registry there, or it reverted: no delegation
    return bool(abi_decode(["bool"], answer)[0])


def for_all(chain: NodeReads, registry: str, delegate: str, vault: str) -> bool:
    return _ask(chain, registry, _FOR_ALL + abi_encode(["address", "address", "bytes32"], [delegate, vault, NO_RIGHTS]))


def for_contract(chain: NodeReads, registry: str, delegate: str, vault: str, contract: str) -> bool:
    args = abi_encode(["address", "address", "address", "bytes32"], [delegate, vault, contract, NO_RIGHTS])
    return _ask(chain, registry, _FOR_CONTRACT + args)


def for_token(chain: NodeReads, registry: str, delegate: str, vault: str, contract: str, token_id: int) -> bool:
    """Whether `delegate` may act for `vault`'s token (the registry counts a delegation for all and for
    the whole contract too)."""
    args = abi_encode(
        ["address", "address", "address", "uint256", "bytes32"], [delegate, vault, contract, token_id, NO_RIGHTS]
    )
    return _ask(chain, registry, _FOR_ERC721 + args)


def delegated_twins(
    chain: NodeReads, registry: str, delegate: str, vault: str, twins: Sequence[tuple[str, int]]
) -> set[tuple[str, int]]:
    """Which of the vault's `twins` the delegate may act for: one call when the vault delegated all,
    else one per collection, then one per twin of the collections not delegated whole."""
    if not registry:
        return set()
    if for_all(chain, registry, delegate, vault):
        return set(twins)
    allowed: set[tuple[str, int]] = set()
    collections = {c for c, _ in twins}
    whole = {c for c in collections if for_contract(chain, registry, delegate, vault, c)}
    for collection, token in twins:
        if collection in whole or for_token(chain, registry, delegate, vault, collection, token):
            allowed.add((collection, token))
    return allowed
