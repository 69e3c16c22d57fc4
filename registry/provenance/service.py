"""Provenance: a twin's timeline from its chain history, oldest first, each step with block time and
transaction hash. Every step a resale partner needs: minted (by whom, which batch), claimed,
transfers, status changes, service records (with their documents' CIDs), content updates, links, burn.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from registry.chain.client import TwinmarkChain
from registry.events.public import describe


def timeline(chain: TwinmarkChain, contract: str, token_id: int) -> list[dict[str, Any]]:
    logs = chain.history(Web3.to_checksum_address(contract), token_id)
    claim_txs = {log.tx_hash for log in logs if log.name == "Claimed"}
    claim_transfers = {log.tx_hash: log.args for log in logs if log.name == "Transfer" and log.tx_hash in claim_txs}
    entries: list[dict[str, Any]] = []
    for log in logs:
        described = describe(log.name, log.args, in_claim=log.tx_hash in claim_txs)
        if described is None:
            continue
        kind, data = described
        if kind == "claimed":  # the claim names who received the twin from whom
            transfer = claim_transfers.get(log.tx_hash)
            data = {"from": transfer["from"] if transfer else None, "to": transfer["to"] if transfer else None}
        elif kind == "burned":
            data = data | {"by_owner": data["from"]}  # the timeline's original name for who burned it
        entries.append(
            {"event": kind}
            | data
            | {"block_number": log.block_number, "block_time": log.block_time.isoformat(), "tx_hash": log.tx_hash}
        )
    return entries


def summary(entries: list[dict[str, Any]], owner: str) -> dict[str, Any]:
    """Owner since, number of owners, last service record: what a verification answer adds."""
    holders: list[str] = []
    owner_since = None
    last_record = None
    for e in entries:
        if e["event"] == "minted":
            holders.append(e["custodian"])
            owner_since = e["block_time"]
        elif e["event"] in ("claimed", "transferred") and e.get("to"):
            holders.append(e["to"])
            if e["to"] == owner:
                owner_since = e["block_time"]
        elif e["event"] == "service_recorded":
            last_record = {k: e[k] for k in ("provider", "record_cid", "block_time", "tx_hash")}
    return {"owner_since": owner_since, "owners": len(dict.fromkeys(holders)), "last_service_record": last_record}
