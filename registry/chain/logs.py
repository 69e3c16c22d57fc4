"""Decoding raw `eth_getLogs` results of the Twinmark contracts into (event name, JSON-ready args).

No web3 formatters: the indexer handles hundreds of thousands of logs, most of them Transfer logs
with topics only. The indexer, provenance and verification all read logs through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from registry.chain import artifacts
from registry.chain.layout import first_token
from registry.ipfs.cid import CID, DAG_PB


@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """EIP-55 form; cached, as the same few addresses recur in most logs."""
    return str(to_checksum_address(address))


def event_topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


TRANSFER = event_topic("Transfer(address,address,uint256)")


@dataclass(frozen=True)
class EventSpec:
    name: str
    topic: str
    indexed: list[tuple[str, str]]  # (name, type)
    data: list[tuple[str, str]]


def _specs(contract: str) -> dict[str, EventSpec]:
    out = {}
    for item in artifacts.load(contract).abi:
        if item.get("type") != "event":
            continue
        topic = event_topic(f"{item['name']}({','.join(p['type'] for p in item['inputs'])})")
        out[topic] = EventSpec(
            item["name"],
            topic,
            [(p["name"], p["type"]) for p in item["inputs"] if p["indexed"]],
            [(p["name"], p["type"]) for p in item["inputs"] if not p["indexed"]],
        )
    return out


REGISTRY_EVENTS = _specs("TwinmarkRegistry")
COLLECTION_EVENTS = _specs("TwinmarkCollection")


def collection_topic(name: str) -> str:
    """topic0 of a collection event, by name."""
    return next(topic for topic, spec in COLLECTION_EVENTS.items() if spec.name == name)


def _plain(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value


def _topic_value(kind: str, topic: str) -> Any:
    raw = bytes.fromhex(topic[2:])
    if kind == "address":
        return checksum("0x" + raw[12:].hex())
    if kind.startswith(("uint", "int")) or kind == "bool":
        return int.from_bytes(raw, "big")
    return "0x" + raw.hex()


def decode(log: dict[str, Any], specs: dict[str, EventSpec]) -> tuple[str, dict[str, Any]] | None:
    """(event name, JSON-ready args) of a raw log, or None for logs of other events."""
    topics = log["topics"]
    if not topics:
        return None
    if topics[0] == TRANSFER and len(topics) == 4:  # hot path: topics only
        return "Transfer", {
            "from": checksum("0x" + topics[1][-40:]),
            "to": checksum("0x" + topics[2][-40:]),
            "tokenId": int(topics[3], 16),
        }
    spec = specs.get(topics[0])
    if spec is None:
        return None
    args = {name: _topic_value(kind, t) for (name, kind), t in zip(spec.indexed, topics[1:], strict=False)}
    if spec.data:
        values = abi_decode([k for _, k in spec.data], bytes.fromhex(log["data"][2:]))
        args.update({name: _plain(kind, v) for (name, kind), v in zip(spec.data, values, strict=True)})
    return spec.name, args


def token_of(name: str, args: dict[str, Any]) -> int | None:
    """The token an event is about (a batch's first token for BatchMinted)."""
    if name == "BatchMinted":
        return first_token(int(args["batchId"]))
    value = args.get("tokenId")
    return int(value) if value is not None else None


def cid_text(hex_bytes: str) -> str:
    """A binary CID from event data (`0x...`) as text."""
    return str(CID.from_bytes(bytes.fromhex(hex_bytes[2:])))


def anchor_text(hex_digest: str) -> str:
    """A batch anchor (sha2-256 digest of a dag-pb directory) as its CIDv1."""
    return str(CID(1, DAG_PB, bytes.fromhex(hex_digest[2:])))
