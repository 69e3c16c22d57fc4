"""Writing twin rows from either side: the mint worker (right after its own mint) and the indexer
(from chain events and IPFS). Whoever comes second fills in what it knows and never duplicates.
`fold` is the one definition of what a chain event does to a twin's indexed state."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from registry.chain.layout import ZERO_ADDRESS
from registry.chain.logs import cid_text
from registry.db.pairs import pairs_in
from registry.twins.models import Twin, TwinTag

CLAIM_KEYS_FILE = "claim-keys.json"  # published in a claimable batch's directory: (token id, claim key) leaves


class TwinRow(TypedDict):
    """The `twins` columns a new twin is written with (`twin_row`); the others keep their defaults."""

    collection: str
    token_id: int
    brand_id: str | None
    job_id: str | None
    batch_id: int
    kind: str
    name: str
    gtin: str | None
    serial: str | None
    claim_key: str | None
    metadata_cid: str
    dir_cid: str
    token_uri: str
    tx_hash: str | None
    block_number: int
    minted_at: datetime
    metadata_json: str
    owner: str | None


def upsert_twins(
    session: Session, rows: Sequence[TwinRow], *, fill: tuple[str, ...], force: tuple[str, ...] = ()
) -> None:
    """Inserts missing twins; for existing ones sets the `fill` fields that are still empty and
    overwrites the `force` fields (the indexer's chain-derived truth wins over what the API wrote)."""
    if not rows:
        return
    keys = [(r["collection"], r["token_id"]) for r in rows]
    existing: dict[tuple[str, int], Twin] = {}
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        for twin in session.exec(select(Twin).where(pairs_in(col(Twin.collection), col(Twin.token_id), part))):
            existing[(twin.collection, twin.token_id)] = twin
    fresh = [r for r in rows if (r["collection"], r["token_id"]) not in existing]
    if fresh:
        session.execute(insert(Twin), fresh)
    retagged = list(fresh)
    for row in rows:
        known = existing.get((row["collection"], row["token_id"]))
        if known is None:
            continue
        if "metadata_json" in force and known.metadata_json != row["metadata_json"]:
            retagged.append(row)
        for field in fill:
            if getattr(known, field) in (None, "") and row.get(field) is not None:
                setattr(known, field, row.get(field))
        for field in force:
            if getattr(known, field) != row.get(field):
                setattr(known, field, row.get(field))
    set_tags(session, [(r["collection"], r["token_id"], r["metadata_json"]) for r in retagged])


def tags_of(document: str) -> list[str]:
    """A virtual twin's wearable tags (`twinmark.wearable.tags`), lower case, without repeats."""
    parsed = _json_object(document.encode())
    twinmark = parsed.get("twinmark") if parsed else None
    wearable = twinmark.get("wearable") if isinstance(twinmark, dict) else None
    tags = wearable.get("tags") if isinstance(wearable, dict) else None
    if not isinstance(tags, list):
        return []
    return list(dict.fromkeys(t.strip().lower() for t in tags if isinstance(t, str) and 0 < len(t.strip()) <= 50))


def set_tags(session: Session, documents: Sequence[tuple[str, int, str]]) -> None:
    """Replaces the `twin_tags` rows of these (collection, token, metadata document) twins."""
    keys = [(c, t) for c, t, _ in documents]
    for i in range(0, len(keys), 500):
        session.execute(
            delete(TwinTag).where(pairs_in(col(TwinTag.collection), col(TwinTag.token_id), keys[i : i + 500]))
        )
    tags = [{"collection": c, "token_id": t, "tag": tag} for c, t, doc in documents for tag in tags_of(doc)]
    if tags:
        session.execute(insert(TwinTag), tags)


def twin_row(
    *,
    collection: str,
    token: int,
    batch_id: int,
    kind: str,
    metadata: dict[str, Any],
    document: bytes,
    metadata_cid: str,
    dir_cid: str,
    tx_hash: str | None,
    block_number: int,
    brand_id: str | None,
    job_id: str | None,
    claim_key: str | None,
    owner: str | None = None,
) -> TwinRow:
    """A `twins` row for `upsert_twins`: where the token is (batch, directory, mint transaction), what
    its metadata file says (`document`, parsed as `metadata`: name, a passport's GTIN and serial), and
    whom it belongs to here. The worker and the indexer both build their rows with it."""
    passport = _passport(metadata)
    return {
        "collection": collection,
        "token_id": token,
        "brand_id": brand_id,
        "job_id": job_id,
        "batch_id": batch_id,
        "kind": kind,
        "name": str(metadata.get("name", "")),
        "gtin": _text(passport.get("gtin")),
        "serial": _text(passport.get("serial")),
        "claim_key": claim_key,
        "metadata_cid": metadata_cid,
        "dir_cid": dir_cid,
        "token_uri": f"ipfs://{dir_cid}/{token}",
        "tx_hash": tx_hash,
        "block_number": block_number,
        "minted_at": datetime.now(UTC),
        "metadata_json": document.decode(),
        "owner": owner,
    }


def _passport(metadata: dict[str, Any]) -> dict[str, Any]:
    # Content indexed from the chain is anyone's JSON: a passport that is not an object has no fields.
    twinmark = metadata.get("twinmark")
    passport = twinmark.get("passport") if isinstance(twinmark, dict) else None
    return passport if isinstance(passport, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_object(data: bytes) -> dict[str, Any] | None:
    """`data` as a JSON object, or None: content on IPFS is anyone's bytes, never trusted to be JSON."""
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


# Plus the owner: the custodian.
FRESH_STATE: dict[str, Any] = {
    "status": 0,
    "claimed": False,
    "burned": False,
    "owner_since": None,
    "last_serviced_at": None,
}


class TwinChanges(TypedDict, total=False):
    """The twin columns one chain event sets."""

    owner: str | None  # None: burned
    burned: bool
    claimed: bool
    status: int
    metadata_cid: str
    token_uri: str
    metadata_json: str
    name: str
    owner_since: int | None
    last_serviced_at: int | None


def fold(
    name: str, args: dict[str, Any], read_document: Callable[[str], bytes | None], at: int | None = None
) -> TwinChanges:
    """The twin fields one chain event sets (owner and since when, status, claim, burn, content, last
    service); empty when the event changes none of them. `read_document(cid)` returns a content
    update's bytes, or None if unreadable; `at` is the event's block time (unix seconds) if known."""
    if name == "Transfer":
        if args["from"] == ZERO_ADDRESS:
            return {}  # the mint itself: the batch custodian owns the twin
        if args["to"] == ZERO_ADDRESS:
            return {"owner": None, "burned": True, "owner_since": None}
        return {"owner": args["to"], "owner_since": at}
    if name == "ServiceRecorded":
        return {"last_serviced_at": at} if at is not None else {}
    if name == "Claimed":
        return {"claimed": True}
    if name == "StatusChanged":
        return {"status": int(args["status"])}
    if name == "ContentUpdated":
        cid = cid_text(args["cid"])
        values: TwinChanges = {"metadata_cid": cid, "token_uri": f"ipfs://{cid}"}
        document = read_document(cid)
        parsed = _json_object(document) if document is not None else None
        if document is not None and parsed is not None:  # other bytes keep the earlier document and name
            values |= {"metadata_json": document.decode(), "name": str(parsed.get("name", ""))}
        return values
    return {}
