"""From indexed chain events to the events partners subscribe to, and their outbox rows."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session, select

from registry.brands.models import Collection
from registry.indexer.decoding import ZERO, anchor_text, cid_text
from registry.webhooks.models import Delivery, Subscription

TYPES = ("minted", "claimed", "transferred", "status_changed", "service_recorded", "content_updated", "burned")
STATUS = {0: "active", 1: "lost", 2: "stolen"}


def event_id(block_hash: str, tx_hash: str, log_index: int) -> str:
    return "evt_" + hashlib.sha256(f"{block_hash}:{tx_hash}:{log_index}".encode()).hexdigest()[:32]


def public_event(log: dict[str, Any], name: str, args: dict[str, Any], claim_txs: set[str]) -> dict[str, Any] | None:
    """The partner-facing event for one indexed log, or None when another event already tells it."""
    data: dict[str, Any]
    token: int | None = args.get("tokenId")
    if name == "BatchMinted":
        first = int(args["batchId"]) * 10_000 + 1
        kind, token = "minted", None
        data = {
            "batch_id": args["batchId"],
            "first_token_id": first,
            "last_token_id": first + int(args["size"]) - 1,
            "kind": "virtual" if args["kind"] else "physical",
            "minter": args["minter"],
            "custodian": args["custodian"],
            "batch_directory": anchor_text(args["anchor"]),
        }
    elif name == "Transfer":
        if args["from"] == ZERO or log["transactionHash"] in claim_txs:
            return None  # told by `minted` / `claimed`
        kind = "burned" if args["to"] == ZERO else "transferred"
        data = {"from": args["from"]} if kind == "burned" else {"from": args["from"], "to": args["to"]}
    elif name == "Claimed":
        kind, data = "claimed", {}
    elif name == "StatusChanged":
        kind, data = "status_changed", {"status": STATUS.get(args["status"], args["status"]), "by": args["by"]}
    elif name == "ServiceRecorded":
        kind, data = "service_recorded", {"provider": args["provider"], "record_cid": cid_text(args["recordCid"])}
    elif name == "ContentUpdated":
        kind, data = "content_updated", {"cid": cid_text(args["cid"]), "by": args["by"]}
    else:
        return None
    return {
        "id": event_id(log["blockHash"], log["transactionHash"], int(log["logIndex"], 16)),
        "type": kind,
        "contract": log["address"],
        "token_id": token,
        "block_number": int(log["blockNumber"], 16),
        "block_hash": log["blockHash"],
        "tx_hash": log["transactionHash"],
        "log_index": int(log["logIndex"], 16),
        "data": data,
    }


class Fanout:
    """Matches events to subscriptions; loaded once per indexing pass."""

    def __init__(self, session: Session) -> None:
        self.subscriptions = list(session.exec(select(Subscription).where(Subscription.active == True)))  # noqa: E712
        owners = {c.address.lower(): c.brand_id for c in session.exec(select(Collection))}
        self.brand_of = owners

    def deliveries(self, event: dict[str, Any]) -> list[Delivery]:
        contract = event["contract"].lower()
        return [
            Delivery(
                subscription_id=sub.id,
                event_id=event["id"],
                event_type=event["type"],
                payload=json.dumps(event, separators=(",", ":")),
            )
            for sub in self.subscriptions
            # brands hear about their own collections only
            if (sub.brand_id is None or self.brand_of.get(contract) == sub.brand_id)
            and matches(event, set(json.loads(sub.event_types)), sub.collection, sub.token_id)
        ]


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
