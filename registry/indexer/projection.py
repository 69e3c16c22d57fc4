"""Projection: chain events -> twin rows. Event-driven fields follow `registry.twins.projection.fold`;
twins of batches nobody recorded here are built from their IPFS directories, whose bytes the
content store verifies against the anchors."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.chain.layout import batch_tokens
from registry.chain.logs import anchor_text
from registry.db.engine import session_scope
from registry.errors import ContentIntegrityError, ContentUnavailable
from registry.events.models import ChainEvent
from registry.ipfs.cid import CID
from registry.ipfs.store import ContentStore, cat, directory_entries
from registry.jobs.models import ChunkState
from registry.jobs.states import chunks_of_batch, job_ids_of_batch
from registry.twins.models import Twin
from registry.twins.projection import CLAIM_KEYS_FILE, FRESH_STATE, fold, set_tags, twin_row, upsert_twins

log = logging.getLogger(__name__)
# What the chain and the batch directory say wins over what the API wrote.
_FORCE = (
    "batch_id",
    "kind",
    "name",
    "gtin",
    "serial",
    "metadata_cid",
    "dir_cid",
    "token_uri",
    "metadata_json",
    "tx_hash",
    "block_number",
)


class BatchPending(Exception):
    """The batch's twins are about to be recorded by the mint worker."""


def document_reader(store: ContentStore) -> Any:
    def read(cid: str) -> bytes | None:
        try:
            return cat(store, CID.parse(cid), limit=1024 * 1024)
        except (ContentUnavailable, ContentIntegrityError, ValueError) as exc:
            log.warning("content %s not readable: %s", cid, exc)
            return None

    return read


def project(
    s: Session, contract: str, name: str, args: dict[str, Any], store: ContentStore, at: int | None = None
) -> None:
    """Keeps an already-built twin in step with one new event (`at`: its block time)."""
    changes = fold(name, args, document_reader(store), at)
    if changes:
        key = (col(Twin.collection) == contract) & (col(Twin.token_id) == args.get("tokenId", -1))
        s.execute(update(Twin).where(key).values(**changes))
        if "metadata_json" in changes:
            set_tags(s, [(contract, int(args["tokenId"]), changes["metadata_json"])])


def apply_state(
    s: Session, address: str, first: int, last: int, custodian: str, store: ContentStore, mint_tx: str | None = None
) -> None:
    """Sets the event-driven fields of tokens first..last by folding their indexed events (the mint
    transaction's own transfers, to the custodian, change nothing and are skipped: one per twin)."""
    in_range = (col(Twin.collection) == address) & col(Twin.token_id).between(first, last)
    # One statement for the tokens nothing happened to; then one per token that has a history.
    s.execute(update(Twin).where(in_range).values(owner=custodian, **FRESH_STATE))
    state: dict[int, dict[str, Any]] = {}
    events = s.exec(
        select(ChainEvent)
        .where(
            ChainEvent.address == address,
            col(ChainEvent.token_id).between(first, last),
            ChainEvent.name != "BatchMinted",
            ChainEvent.tx_hash != (mint_tx or ""),
        )
        .order_by(col(ChainEvent.block_number), col(ChainEvent.log_index))
    ).all()
    read = document_reader(store)
    for e in events:
        assert e.token_id is not None
        changes = fold(e.name, json.loads(e.args), read, e.block_time)
        if changes:
            state.setdefault(e.token_id, {"owner": custodian, **FRESH_STATE}).update(changes)
    for token, values in state.items():
        s.execute(update(Twin).where(col(Twin.collection) == address, col(Twin.token_id) == token).values(**values))


def hydrate(engine: Engine, store: ContentStore, limit: int = 20) -> int:
    """Builds the twins of batches whose rows are missing, from their IPFS directories."""
    with session_scope(engine) as s:
        missing = s.exec(
            select(ChainEvent)
            .where(ChainEvent.name == "BatchMinted", col(ChainEvent.built).is_(False))
            .order_by(col(ChainEvent.id))
            .limit(limit)
        ).all()
    built = 0
    for event in missing:
        try:
            build_batch(engine, store, event)
            built += 1
        except BatchPending:
            continue
        except (ContentUnavailable, ContentIntegrityError, ValueError) as exc:
            log.warning("batch %s of %s not built yet: %s", event.token_id, event.address, exc)
    return built


def build_batch(engine: Engine, store: ContentStore, event: ChainEvent) -> None:
    args = json.loads(event.args)
    batch_id, size = int(args["batchId"]), int(args["size"])
    directory = CID.parse(anchor_text(args["anchor"]))
    first, last = batch_tokens(batch_id, size)
    with session_scope(engine) as s:
        recorded = s.exec(
            select(func.count())
            .select_from(Twin)
            .where(
                col(Twin.collection) == event.address,
                col(Twin.token_id).between(first, last),
                col(Twin.dir_cid) == str(directory),
            )
        ).one()
        if recorded == size:
            # The mint worker already wrote these twins from this very directory (the chain's anchor):
            # only the event-driven state needs setting.
            s.execute(update(ChainEvent).where(col(ChainEvent.id) == event.id).values(built=True))
            apply_state(s, event.address, first, last, args["custodian"], store, event.tx_hash)
            return
        if any(
            c.dir_cid == str(directory) and c.state in (ChunkState.sent, ChunkState.confirmed)
            for c in chunks_of_batch(s, event.address, batch_id)
        ):
            # The mint worker is about to record this very batch: building it from IPFS now would do
            # its work twice (thousands of reads) and race its writes. Left for a later pass.
            raise BatchPending(f"batch {batch_id} of {event.address} is being recorded by the mint worker")
    entries = directory_entries(store, directory)
    claim_keys: dict[int, str] = {}
    if CLAIM_KEYS_FILE in entries:
        leaves = json.loads(cat(store, entries[CLAIM_KEYS_FILE]))["leaves"]
        claim_keys = {int(t): k for t, k in leaves}
    with session_scope(engine) as s:
        collection = s.get(Collection, event.address)
        job_ids = job_ids_of_batch(s, event.address, batch_id, size)  # coalesced: one job per chunk
    rows = []
    for token in range(first, last + 1):
        file_cid = entries.get(str(token))
        if file_cid is None:
            raise ContentIntegrityError(f"batch directory {directory} has no file for token {token}")
        document = cat(store, file_cid, limit=1024 * 1024)
        meta = json.loads(document)
        if not isinstance(meta, dict):
            raise ContentIntegrityError(f"metadata of token {token} in {directory} is not a JSON object")
        rows.append(
            twin_row(
                collection=event.address,
                token=token,
                batch_id=batch_id,
                kind="virtual" if args["kind"] else "physical",
                metadata=meta,
                document=document,
                metadata_cid=str(file_cid),
                dir_cid=str(directory),
                tx_hash=event.tx_hash,
                block_number=event.block_number,
                brand_id=collection.brand_id if collection else None,
                job_id=job_ids[token - first],
                claim_key=claim_keys.get(token),
                owner=args["custodian"],
            )
        )
    with session_scope(engine) as s:
        upsert_twins(s, rows, fill=("job_id", "brand_id", "claim_key", "owner"), force=_FORCE)
        s.execute(update(ChainEvent).where(col(ChainEvent.id) == event.id).values(built=True))
        s.flush()
        apply_state(s, event.address, first, last, args["custodian"], store, event.tx_hash)
