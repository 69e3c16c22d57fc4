"""The human form of a chain event, written once: provenance timelines, webhooks and the event
stream all describe an event through `describe`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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


Party = str | None


def parties(decoded: Sequence[tuple[dict[str, Any], str, dict[str, Any]]]) -> list[tuple[Party, Party]]:
    """(sender, recipient) of each decoded log of one indexed range, for owner filters: a transfer's
    `from`/`to` (a burn has no recipient), a claim's from the Transfer of its own transaction (the
    `Claimed` log names no address), a batch's custodian as the recipient of its twins; (None, None)
    otherwise. A mint's own transfers get none: the batch's `minted` event tells them, once."""
    moves = {
        (raw["transactionHash"], args["tokenId"]): (args["from"], args["to"])
        for raw, name, args in decoded
        if name == "Transfer"
    }
    out: list[tuple[Party, Party]] = []
    for raw, name, args in decoded:
        if name == "Transfer" and args["from"] != ZERO_ADDRESS:
            out.append((args["from"], None if args["to"] == ZERO_ADDRESS else args["to"]))
        elif name == "Claimed":
            out.append(moves.get((raw["transactionHash"], args["tokenId"]), (None, None)))
        elif name == "BatchMinted":
            out.append((None, args["custodian"]))
        else:
            out.append((None, None))
    return out


def public_event(
    log: dict[str, Any],
    name: str,
    args: dict[str, Any],
    claim_txs: set[str],
    *,
    moved: tuple[Party, Party] | None = None,
) -> dict[str, Any] | None:
    """The partner-facing event (webhooks, stream) for one indexed log, or None. `moved`: the log's
    (sender, recipient) from `parties`; a claim then names who received the twin from whom.

    A dict on purpose: it is the payload itself, JSON-encoded once into the outbox, signed and
    delivered as those bytes (and sent as the stream's `data`); its `data` differs by type."""
    described = describe(name, args, in_claim=log["transactionHash"] in claim_txs)
    if described is None or described[0] not in TYPES:
        return None
    kind, data = described
    if kind == "claimed" and moved is not None and moved[1] is not None:
        data = {"from": moved[0], "to": moved[1]}
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


def event_parties(event: dict[str, Any]) -> set[str]:
    """The addresses a public event moves a twin from or to (lower case): a transfer's or claim's
    `from` and `to`, a burn's `from`, a mint's custodian."""
    data = event["data"]
    found = [data.get("from"), data.get("to")] if event["type"] in ("transferred", "claimed", "burned") else []
    if event["type"] == "minted":
        found.append(data.get("custodian"))
    return {a.lower() for a in found if isinstance(a, str) and a != ZERO_ADDRESS}


def matches(
    event: dict[str, Any], types: set[str], collection: str | None, token_id: int | None, owner: str | None = None
) -> bool:
    """The filters of webhooks and of the event stream: types (empty: all), collection, token, owner
    (the address is the event's sender or recipient: `event_parties`)."""
    if types and event["type"] not in types:
        return False
    if collection is not None and collection.lower() != event["contract"].lower():
        return False
    if owner is not None and owner.lower() not in event_parties(event):
        return False
    if token_id is None:
        return True
    if event["type"] == "minted":
        return bool(event["data"]["first_token_id"] <= token_id <= event["data"]["last_token_id"])
    return bool(event["token_id"] == token_id)
