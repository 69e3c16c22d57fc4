"""One twin as a verifier needs it, from one `eth_call` (`TwinmarkRegistry.twinReport`): whether its
collection is genuine, its brand's record and compromise windows, the twin or whether it was
destroyed. Encoded and decoded with eth-abi directly: this is the hot path of every cold verification,
and web3's contract layer costs more than the node's answer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import get_abi_output_types
from eth_utils.crypto import keccak

from registry.chain import artifacts
from registry.chain.logs import checksum

SELECTOR = keccak(text="twinReport(address,uint256)")[:4]


@dataclass(frozen=True)
class OnChainBatch:
    custodian: str
    size: int
    kind: int
    minted_at: int
    anchor: bytes
    claim_root: bytes


@dataclass(frozen=True)
class OnChainTwin:
    owner: str
    batch_id: int
    kind: int
    status: int
    claimed: bool
    claimable: bool
    nonce: int
    minted_at: int
    custodian: str
    uri: str


@dataclass(frozen=True)
class OnChainBrand:
    admin: str
    registered_at: int
    suspended: bool
    name: str


@dataclass(frozen=True)
class TwinReport:
    brand_id: int  # 0: not a collection of this registry
    brand: OnChainBrand | None
    compromises: tuple[tuple[int, int], ...]  # (start, end) in block time; end 0: still open
    twin: OnChainTwin | None  # None: never minted, or destroyed (`burned`)
    burned: bool

    def compromised_at(self, timestamp: int) -> bool:
        """`TwinmarkRegistry.isCompromisedAt`, on the windows read with the report."""
        return any(start <= timestamp and (end == 0 or timestamp < end) for start, end in self.compromises)


@cache
def _output_types() -> list[str]:
    abi = artifacts.load("TwinmarkRegistry").abi
    return list(get_abi_output_types(next(i for i in abi if i.get("name") == "twinReport")))  # type: ignore[arg-type]


def call_data(collection: str, token_id: int) -> str:
    return "0x" + (SELECTOR + abi_encode(["address", "uint256"], [collection, token_id])).hex()


def decode_report(result: str) -> TwinReport:
    """The report from the `eth_call` result (hex)."""
    ((brand_id, brand, windows, exists, burned, twin),) = abi_decode(_output_types(), bytes.fromhex(result[2:]))
    if brand_id == 0:
        return TwinReport(0, None, (), None, False)
    return TwinReport(
        int(brand_id),
        OnChainBrand(checksum(brand[0]), int(brand[1]), bool(brand[2]), str(brand[3])),
        tuple((int(start), int(end)) for start, end in windows),
        _twin(twin) if exists else None,
        bool(burned),
    )


def _twin(t: Any) -> OnChainTwin:
    return OnChainTwin(
        checksum(t[0]),
        int(t[1]),
        int(t[2]),
        int(t[3]),
        bool(t[4]),
        bool(t[5]),
        int(t[6]),
        int(t[7]),
        checksum(t[8]),
        t[9],
    )
