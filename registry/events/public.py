"""The human form of a chain event, written once: provenance timelines, webhooks and the event
stream all describe an event through `describe`."""

from __future__ import annotations

import hashlib
from typing import Any

from registry.chain.layout import ZERO_ADDRESS, batch_tokens, kind_name, status_name
from registry.chain.logs import anchor_text, cid_text

# Event types partners subscribe to (webhooks, event stream).
TYPES = ("minted", "claimed", "transferred", "status_changed", "service_recorded", "content_updated", "burned")


def event_id(block_hash: str, tx_hash: str, log_index: int) -> str:
    """Stable across retries and redeliveries, so receivers can drop duplicates."""
    return "evt_" + hashlib.sha256(f"{block_hash}:{tx_hash}:{log_index}".encode()).hexdigest()[:32]


def describe(name: str, args: dict[str, Any], *, in_claim: bool = False) -> tuple[str, dict[str, Any]] | None:
    """(type, data) of a collection event; None for events told by another one (a mint's transfers,
    a claim's transfer) or that are not about twins. `in_claim`: the log is part of a claim transaction."""
    if name == "BatchMinted":
        first, last = batch_tokens(int(args["batchId"]), int(args["size"]))
        return "minted", {
            "batch_id": args["batchId"],
            "first_token_id": first,
            "last_token_id": last,
            "kind": kind_name(int(args["kind"])),
            "minter": args["minter"],
            "custodian": args["custodian"],
            "batch_directory": anchor_text(args["anchor"]),
            "claimable": int(args["claimRoot"], 16) != 0,
        }
    if name == "Transfer":
        if args["from"] == ZERO_ADDRESS or in_claim:
            return None  # told by `minted` / `claimed`
        if args["to"] == ZERO_ADDRESS:
            return "burned", {"from": args["from"]}
        return "transferred", {"from": args["from"], "to": args["to"]}
    if name == "Claimed":
        return "claimed", {}
    if name == "StatusChanged":
        return "status_changed", {"status": status_name(int(args["status"])), "by": args["by"]}
    if name == "ServiceRecorded":
        return "service_recorded", {"provider": args["provider"], "record_cid": cid_text(args["recordCid"])}
    if name == "ContentUpdated":
        return "content_updated", {"cid": cid_text(args["cid"]), "by": args["by"]}
    if name == "TwinLinked":
        return "linked", {
            "physical_collection": args["physicalCollection"],
            "physical_token_id": args["physicalTokenId"],
        }
    return None


def public_event(log: dict[str, Any], name: str, args: dict[str, Any], claim_txs: set[str]) -> dict[str, Any] | None:
    """The partner-facing event (webhooks, stream) for one indexed log, or None."""
    described = describe(name, args, in_claim=log["transactionHash"] in claim_txs)
    if described is None or described[0] not in TYPES:
        return None
    kind, data = described
    return {
        "id": event_id(log["blockHash"], log["transactionHash"], int(log["logIndex"], 16)),
        "type": kind,
        "contract": log["address"],
        "token_id": None if kind == "minted" else args.get("tokenId"),
        "block_number": int(log["blockNumber"], 16),
        "block_hash": log["blockHash"],
        "tx_hash": log["transactionHash"],
        "log_index": int(log["logIndex"], 16),
        "data": data,
    }


def matches(event: dict[str, Any], types: set[str], collection: str | None, token_id: int | None) -> bool:
    """The filters of webhooks and of the event stream: types (empty: all), collection, token."""
    if types and event["type"] not in types:
        return False
    if collection is not None and collection.lower() != event["contract"].lower():
        return False
    if token_id is None:
        return True
    if event["type"] == "minted":
        return bool(event["data"]["first_token_id"] <= token_id <= event["data"]["last_token_id"])
    return bool(event["token_id"] == token_id)
