"""Provenance: a twin's timeline read from chain events, oldest first, each with block time and
transaction hash. Every step a resale partner needs: minted (by whom, which batch), claimed,
transfers, status changes, service records (with their documents' CIDs), content updates, links, burn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3

from registry.chain import artifacts
from registry.chain.client import TwinmarkChain
from registry.chain.sender import retrying
from registry.ipfs.cid import CID, DAG_PB

STATUS = {0: "active", 1: "lost", 2: "stolen"}
ZERO = "0x" + "00" * 20
_BY_TOKEN = ("Claimed", "StatusChanged", "ContentUpdated", "ServiceRecorded", "TwinLinked")


def _event_topic(name: str) -> str:
    item = next(i for i in artifacts.load("TwinmarkCollection").abi if i.get("type") == "event" and i["name"] == name)
    return "0x" + keccak(text=f"{name}({','.join(p['type'] for p in item['inputs'])})").hex()


def _topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def timeline(chain: TwinmarkChain, contract: str, token_id: int) -> list[dict[str, Any]]:
    contract = Web3.to_checksum_address(contract)
    col = chain.collection(contract)
    events = {e: getattr(col.events, e)() for e in (*_BY_TOKEN, "Transfer", "BatchMinted")}
    topic0 = {_event_topic(name): name for name in events}
    token = _topic(token_id)
    base = {"address": contract, "fromBlock": 0, "toBlock": "latest"}
    queries = [
        {**base, "topics": [[t for t, n in topic0.items() if n in _BY_TOKEN], token]},
        {**base, "topics": [next(t for t, n in topic0.items() if n == "Transfer"), None, None, token]},
        {**base, "topics": [next(t for t, n in topic0.items() if n == "BatchMinted"), _topic(token_id // 10_000)]},
    ]
    logs = [log for q in queries for log in retrying(lambda q=q: chain.w3.eth.get_logs(q))]
    logs.sort(key=lambda log: (log["blockNumber"], log["logIndex"]))
    times: dict[int, int] = {}
    claim_txs = {
        log["transactionHash"] for log in logs if topic0.get("0x" + bytes(log["topics"][0]).hex()) == "Claimed"
    }
    entries: list[dict[str, Any]] = []
    for log in logs:
        name = topic0["0x" + bytes(log["topics"][0]).hex()]
        args = events[name].process_log(log)["args"]
        entry: dict[str, Any]
        if name == "BatchMinted":
            entry = {
                "event": "minted",
                "batch_id": args["batchId"],
                "minter": args["minter"],
                "custodian": args["custodian"],
                "kind": "virtual" if args["kind"] else "physical",
                "batch_directory": str(CID(1, DAG_PB, bytes(args["anchor"]))),
                "claimable": args["claimRoot"] != b"\0" * 32,
            }
        elif name == "Transfer":
            if args["from"] == ZERO:
                continue  # part of the mint
            if args["to"] == ZERO:
                entry = {"event": "burned", "by_owner": args["from"]}
            elif log["transactionHash"] in claim_txs:
                continue  # reported as the claim
            else:
                entry = {"event": "transferred", "from": args["from"], "to": args["to"]}
        elif name == "Claimed":
            transfer = next(
                (
                    events["Transfer"].process_log(t)["args"]
                    for t in logs
                    if t["transactionHash"] == log["transactionHash"]
                    and topic0["0x" + bytes(t["topics"][0]).hex()] == "Transfer"
                ),
                None,
            )
            entry = {
                "event": "claimed",
                "from": transfer["from"] if transfer else None,
                "to": transfer["to"] if transfer else None,
            }
        elif name == "StatusChanged":
            entry = {"event": "status_changed", "status": STATUS.get(args["status"], args["status"]), "by": args["by"]}
        elif name == "ServiceRecorded":
            entry = {
                "event": "service_recorded",
                "provider": args["provider"],
                "record_cid": str(CID.from_bytes(bytes(args["recordCid"]))),
            }
        elif name == "ContentUpdated":
            entry = {"event": "content_updated", "cid": str(CID.from_bytes(bytes(args["cid"]))), "by": args["by"]}
        else:
            entry = {
                "event": "linked",
                "physical_collection": args["physicalCollection"],
                "physical_token_id": args["physicalTokenId"],
            }
        block = int(log["blockNumber"])
        if block not in times:
            times[block] = int(retrying(lambda b=block: chain.w3.eth.get_block(b))["timestamp"])
        entry |= {
            "block_number": block,
            "block_time": datetime.fromtimestamp(times[block], UTC).isoformat(),
            "tx_hash": "0x" + bytes(log["transactionHash"]).hex(),
        }
        entries.append(entry)
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
