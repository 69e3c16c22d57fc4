"""The chain indexer: the SQL registry as an index of the chain and IPFS, never a second truth.

It reads every log of the registry and of all brand collections with `eth_getLogs` over adaptive
block ranges, records each once (keyed by block hash, tx hash, log index) with the cursor in the
same transaction, waits `confirmations` blocks, and on a reorganisation (the stored hash of the
last indexed block differs from the node's) rewinds to the last block both agree on and replays.
Twins are (re)built from BatchMinted events and the batch directories on IPFS, whose bytes the
content store verifies against the anchors; owner, status, claim and burn follow the events.
Webhook deliveries are written to the outbox in the same transaction as the events they announce.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, delete, func, insert, update
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.chain.client import TwinmarkChain
from registry.db.engine import session_scope
from registry.db.lease import LeaseHolder, run_leased
from registry.errors import ChainUnavailable, ContentIntegrityError, ContentUnavailable
from registry.indexer.decoding import (
    COLLECTION_EVENTS,
    REGISTRY_EVENTS,
    ZERO,
    anchor_text,
    checksum,
    cid_text,
    decode,
    token_of,
)
from registry.indexer.models import ChainEvent, IndexCursor
from registry.ipfs.cid import CID
from registry.ipfs.store import ContentStore, cat
from registry.ipfs.unixfs import decode_node
from registry.jobs.models import Chunk, ChunkState, Job, JobState
from registry.jobs.service import mark
from registry.settings import Settings
from registry.twins.models import Twin
from registry.twins.projection import CLAIM_KEYS_FILE, upsert_twins
from registry.webhooks.events import Fanout, event_id, public_event
from registry.webhooks.models import Delivery

log = logging.getLogger(__name__)
MAX_RANGE = 100_000
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


class RangeTooLarge(Exception):
    pass


class Indexer:
    def __init__(
        self, engine: Engine, chain: TwinmarkChain, store: ContentStore, settings: Settings, *, deliveries: bool = True
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.store = store
        self.settings = settings
        self.deliveries = deliveries
        self.chain_id = chain.sender.chain_id
        self.registry = chain.registry.address
        self.rpc_url = str(getattr(chain.w3.provider, "endpoint_uri", ""))
        self.http = httpx.Client(timeout=120)
        self.lease = LeaseHolder(engine, f"indexer:{self.chain_id}", settings.worker_lease_seconds)
        self._collections: list[str] | None = None
        self._wake = threading.Event()
        self._idle_at: tuple[str, str] | None = None

    # ------------------------------------------------------------ plumbing

    def rpc(self, method: str, params: list[Any]) -> Any:
        try:
            body = self.http.post(
                self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            ).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChainUnavailable(f"{method}: {exc}") from exc
        if "error" in body:
            message = str(body["error"].get("message", body["error"]))
            if any(word in message.lower() for word in ("range", "too many", "limit", "exceed", "size")):
                raise RangeTooLarge(message)
            raise ChainUnavailable(f"{method}: {message}")
        return body["result"]

    def block_hash(self, number: int) -> str | None:
        block = self.rpc("eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"])

    def collections(self, session: Session) -> list[str]:
        if self._collections is None:
            rows = session.exec(select(ChainEvent.args).where(ChainEvent.name == "CollectionCreated")).all()
            self._collections = [json.loads(a)["collection"] for a in rows]
        return self._collections

    # ------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        run_leased(self.lease, lambda: self.step() + self.hydrate(), stop, idle=self._idle, name="indexer")

    def _idle(self) -> None:
        self._wake.wait(self.settings.indexer_poll_seconds)
        self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def forget(self) -> None:
        """Drops what this process remembers of the index (after it was changed underneath)."""
        self._collections = None
        self._idle_at = None

    def catch_up(self, *, hydrate: bool = True) -> int:
        """Indexes up to the confirmed head (and builds twins); returns the number of logs ingested."""
        self.lease.hold()
        total = 0
        while True:
            done = self.step()
            total += max(done, 0)
            if done == 0:
                break
        if hydrate:
            while self.hydrate():
                pass
        return total

    # ------------------------------------------------------------ one pass

    def step(self) -> int:
        latest = self.rpc("eth_getBlockByNumber", ["latest", False])
        if (latest["number"], latest["hash"]) == self._idle_at:
            return 0  # nothing new since the last pass found nothing (a same-height reorg changes the hash)
        head = int(latest["number"], 16)
        target = head - self.settings.confirmations
        with session_scope(self.engine) as s:
            cursor = s.get(IndexCursor, self.chain_id)
            if cursor is None:
                cursor = IndexCursor(chain_id=self.chain_id)
                s.add(cursor)
        reorganised = cursor.next_block > 0 and self.block_hash(cursor.next_block - 1) != cursor.last_hash
        if reorganised and cursor.last_hash is not None:
            self._rewind()
            return 1
        if cursor.next_block > target:
            self._idle_at = (latest["number"], latest["hash"])
            return 0
        self._idle_at = None
        start, size = cursor.next_block, cursor.range_size
        while True:
            end = min(target, start + size - 1)
            try:
                logs = self._fetch(start, end)
                break
            except RangeTooLarge:
                if size == 1:
                    raise
                size = max(1, size // 2)
        end_hash = self.block_hash(end)
        self._ingest(logs, end, end_hash, size)
        return max(1, len(logs))

    def _fetch(self, start: int, end: int) -> list[dict[str, Any]]:
        span = {"fromBlock": hex(start), "toBlock": hex(end)}
        registry_logs = self.rpc("eth_getLogs", [span | {"address": self.registry}])
        with session_scope(self.engine) as s:
            known = list(self.collections(s))
        for raw in registry_logs:
            decoded = decode(raw, REGISTRY_EVENTS)
            if decoded and decoded[0] == "CollectionCreated" and decoded[1]["collection"] not in known:
                known.append(decoded[1]["collection"])
        logs = list(registry_logs)
        for i in range(0, len(known), 500):
            logs += self.rpc("eth_getLogs", [span | {"address": known[i : i + 500]}])
        logs.sort(key=lambda raw: (int(raw["blockNumber"], 16), int(raw["logIndex"], 16)))
        return logs

    def _ingest(self, logs: list[dict[str, Any]], end: int, end_hash: str | None, size: int) -> None:
        rows, publics = [], []
        claim_txs = set()
        decoded_logs = []
        registry = self.registry.lower()
        for raw in logs:
            decoded = decode(raw, REGISTRY_EVENTS if raw["address"].lower() == registry else COLLECTION_EVENTS)
            if decoded is None:
                continue
            decoded_logs.append((raw, *decoded))
            if decoded[0] == "Claimed":
                claim_txs.add(raw["transactionHash"])
        for raw, name, args in decoded_logs:
            rows.append(
                {
                    "block_number": int(raw["blockNumber"], 16),
                    "block_hash": raw["blockHash"],
                    "tx_hash": raw["transactionHash"],
                    "log_index": int(raw["logIndex"], 16),
                    "address": checksum(raw["address"]),
                    "name": name,
                    "token_id": token_of(name, args),
                    "args": json.dumps(args, separators=(",", ":")),
                }
            )
            if self.deliveries:
                event = public_event(raw | {"address": rows[-1]["address"]}, name, args, claim_txs)
                if event is not None:
                    publics.append(event)
        with session_scope(self.engine) as s:
            if rows:
                s.execute(insert(ChainEvent), rows)
            for raw, name, args in decoded_logs:
                self._project(
                    s,
                    checksum(raw["address"]),
                    name,
                    args,
                    raw["transactionHash"] in claim_txs,
                )
                known = self._collections
                if name == "CollectionCreated" and known is not None and args["collection"] not in known:
                    known.append(args["collection"])
            if publics:
                fanout = Fanout(s)
                s.add_all(d for event in publics for d in fanout.deliveries(event))
            cursor = s.get(IndexCursor, self.chain_id)
            assert cursor is not None
            cursor.next_block, cursor.last_hash = end + 1, end_hash
            cursor.range_size = min(MAX_RANGE, size * 2) if len(logs) < 20_000 else max(1, size // 2)
            cursor.updated_at = datetime.now(UTC)

    def _project(self, s: Session, contract: str, name: str, args: dict[str, Any], in_claim: bool) -> None:
        """Keeps owner/status/claim/burn/content of already-built twins in step with one event."""
        key = (col(Twin.collection) == contract) & (col(Twin.token_id) == args.get("tokenId", -1))
        if name == "Transfer" and args["from"] != ZERO:
            if args["to"] == ZERO:
                s.execute(update(Twin).where(key).values(owner=None, burned=True))
            else:
                s.execute(update(Twin).where(key).values(owner=args["to"]))
        elif name == "Claimed":
            s.execute(update(Twin).where(key).values(claimed=True))
        elif name == "StatusChanged":
            s.execute(update(Twin).where(key).values(status=int(args["status"])))
        elif name == "ContentUpdated":
            cid = cid_text(args["cid"])
            values: dict[str, Any] = {"metadata_cid": cid, "token_uri": f"ipfs://{cid}"}
            try:
                document = cat(self.store, CID.parse(cid), limit=1024 * 1024)
                values |= {"metadata_json": document.decode(), "name": str(json.loads(document).get("name", ""))}
            except (ContentUnavailable, ContentIntegrityError, ValueError) as exc:
                log.warning("content update %s of %s/%s not readable: %s", cid, contract, args["tokenId"], exc)
            s.execute(update(Twin).where(key).values(**values))

    # ------------------------------------------------------------ twins from batches

    def hydrate(self, limit: int = 20) -> int:
        """Builds the twins of batches whose rows are missing, from their IPFS directories."""
        with session_scope(self.engine) as s:
            missing = s.exec(
                select(ChainEvent)
                .where(ChainEvent.name == "BatchMinted", col(ChainEvent.built).is_(False))
                .order_by(col(ChainEvent.id))
                .limit(limit)
            ).all()
        built = 0
        for event in missing:
            try:
                self._build_batch(event)
                built += 1
            except (ContentUnavailable, ContentIntegrityError, ValueError) as exc:
                log.warning("batch %s of %s not built yet: %s", event.token_id, event.address, exc)
        return built

    def _build_batch(self, event: ChainEvent) -> None:
        args = json.loads(event.args)
        batch_id, size = int(args["batchId"]), int(args["size"])
        directory = CID.parse(anchor_text(args["anchor"]))
        first, last = batch_id * 10_000 + 1, batch_id * 10_000 + size
        with session_scope(self.engine) as s:
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
                apply_state(s, event.address, first, last, args["custodian"], self.store)
                return
        node = decode_node(self.store.get_block(directory))
        entries = {link.name: link.cid for link in node.links}
        claim_keys: dict[int, str] = {}
        if CLAIM_KEYS_FILE in entries:
            leaves = json.loads(cat(self.store, entries[CLAIM_KEYS_FILE]))["leaves"]
            claim_keys = {int(t): k for t, k in leaves}
        with session_scope(self.engine) as s:
            collection = s.get(Collection, event.address)
            chunk = s.exec(select(Chunk).where(Chunk.collection == event.address, Chunk.batch_id == batch_id)).first()
        rows = []
        for index in range(1, size + 1):
            token = batch_id * 10_000 + index
            file_cid = entries.get(str(token))
            if file_cid is None:
                raise ContentIntegrityError(f"batch directory {directory} has no file for token {token}")
            document = cat(self.store, file_cid, limit=1024 * 1024)
            meta = json.loads(document)
            passport = meta.get("twinmark", {}).get("passport", {})
            rows.append(
                {
                    "collection": event.address,
                    "token_id": token,
                    "brand_id": collection.brand_id if collection else None,
                    "job_id": chunk.job_id if chunk else None,
                    "batch_id": batch_id,
                    "kind": "virtual" if args["kind"] else "physical",
                    "name": str(meta.get("name", "")),
                    "gtin": passport.get("gtin"),
                    "serial": passport.get("serial"),
                    "claim_key": claim_keys.get(token),
                    "metadata_cid": str(file_cid),
                    "dir_cid": str(directory),
                    "token_uri": f"ipfs://{directory}/{token}",
                    "tx_hash": event.tx_hash,
                    "block_number": event.block_number,
                    "metadata_json": document.decode(),
                    "owner": args["custodian"],
                }
            )
        with session_scope(self.engine) as s:
            upsert_twins(s, rows, fill=("job_id", "brand_id", "claim_key", "owner"), force=_FORCE)
            s.execute(update(ChainEvent).where(col(ChainEvent.id) == event.id).values(built=True))
            s.flush()
            apply_state(
                s, event.address, batch_id * 10_000 + 1, batch_id * 10_000 + size, args["custodian"], self.store
            )

    # ------------------------------------------------------------ reorganisations

    def _rewind(self) -> None:
        with session_scope(self.engine) as s:
            cursor = s.get(IndexCursor, self.chain_id)
            assert cursor is not None
            blocks = s.exec(
                select(ChainEvent.block_number, ChainEvent.block_hash)
                .where(ChainEvent.block_number < cursor.next_block)
                .distinct()
                .order_by(col(ChainEvent.block_number).desc())
                .limit(512)
            ).all()
        ancestor = -1
        for number, known in blocks:
            if self.block_hash(number) == known:
                ancestor = number
                break
        with session_scope(self.engine) as s:
            dropped = s.exec(select(ChainEvent).where(ChainEvent.block_number > ancestor)).all()
            log.warning("reorg: rewinding to block %s, dropping %s events", ancestor, len(dropped))
            ids = [event_id(e.block_hash, e.tx_hash, e.log_index) for e in dropped]
            for i in range(0, len(ids), 500):
                s.execute(
                    update(Delivery)
                    .where(col(Delivery.event_id).in_(ids[i : i + 500]), col(Delivery.state) == "pending")
                    .values(state="cancelled", last_error="event removed by a chain reorganisation")
                )
            touched: dict[str, set[int]] = defaultdict(set)
            for e in dropped:
                if e.name == "BatchMinted":
                    first = e.token_id or 0
                    size = int(json.loads(e.args)["size"])
                    s.execute(
                        delete(Twin).where(
                            col(Twin.collection) == e.address, col(Twin.token_id).between(first, first + size - 1)
                        )
                    )
                    reopen_chunk(s, e.address, first // 10_000)
                elif e.token_id is not None:
                    touched[e.address].add(e.token_id)
            s.execute(delete(ChainEvent).where(col(ChainEvent.block_number) > ancestor))
            s.flush()
            for address, tokens in touched.items():
                for token in tokens:
                    mint = s.exec(
                        select(ChainEvent).where(
                            ChainEvent.address == address,
                            ChainEvent.name == "BatchMinted",
                            ChainEvent.token_id == token - token % 10_000 + 1,
                        )
                    ).first()
                    if mint is not None:
                        apply_state(s, address, token, token, json.loads(mint.args)["custodian"], self.store)
            cursor = s.get(IndexCursor, self.chain_id)
            assert cursor is not None
            cursor.next_block = ancestor + 1
            cursor.last_hash = self.block_hash(ancestor) if ancestor >= 0 else None
            if ancestor < 0:
                self._collections = None


def reopen_chunk(s: Session, address: str, batch_id: int) -> None:
    """A batch the mint worker recorded was orphaned by a reorganisation: hand it back to the worker,
    which mints it again under the same batch id (so it still lands exactly once)."""
    chunk = s.exec(select(Chunk).where(Chunk.collection == address, Chunk.batch_id == batch_id)).first()
    if chunk is None or chunk.state not in (ChunkState.confirmed, ChunkState.recorded):
        return
    job = s.get(Job, chunk.job_id)
    if chunk.state == ChunkState.recorded and job is not None:
        job.recorded -= chunk.size
        mark(job, JobState.running)
    chunk.state, chunk.tx_hash, chunk.block_number = ChunkState.stored, None, None
    log.warning("reorg orphaned batch %s of %s: handed back to the mint worker", batch_id, address)


def apply_state(s: Session, address: str, first: int, last: int, custodian: str, store: ContentStore) -> None:
    """Sets owner, status, claim, burn and content of tokens first..last from their indexed events."""
    in_range = (col(Twin.collection) == address) & col(Twin.token_id).between(first, last)
    # One statement for the tokens nothing happened to; then one per token that has a history.
    s.execute(update(Twin).where(in_range).values(owner=custodian, status=0, claimed=False, burned=False))
    state: dict[int, dict[str, Any]] = {}
    events = s.exec(
        select(ChainEvent)
        .where(
            ChainEvent.address == address,
            col(ChainEvent.token_id).between(first, last),
            ChainEvent.name != "BatchMinted",
        )
        .order_by(col(ChainEvent.block_number), col(ChainEvent.log_index))
    ).all()
    for e in events:
        assert e.token_id is not None
        args = json.loads(e.args)
        if e.name == "Transfer" and args["from"] == ZERO:
            continue  # the mint itself: the custodian, already set
        st = state.setdefault(e.token_id, {"owner": custodian, "status": 0, "claimed": False, "burned": False})
        if e.name == "Transfer" and args["from"] != ZERO:
            st.update(owner=None, burned=True) if args["to"] == ZERO else st.update(owner=args["to"])
        elif e.name == "Claimed":
            st["claimed"] = True
        elif e.name == "StatusChanged":
            st["status"] = int(args["status"])
        elif e.name == "ContentUpdated":
            cid = cid_text(args["cid"])
            st.update(metadata_cid=cid, token_uri=f"ipfs://{cid}")
            try:
                document = cat(store, CID.parse(cid), limit=1024 * 1024)
                st.update(metadata_json=document.decode(), name=str(json.loads(document).get("name", "")))
            except (ContentUnavailable, ContentIntegrityError, ValueError):
                pass
    for token, values in state.items():
        s.execute(update(Twin).where(col(Twin.collection) == address, col(Twin.token_id) == token).values(**values))


def event_count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.exec(select(func.count()).select_from(ChainEvent)).one())
