"""The chain indexer: the SQL registry as an index of the chain and IPFS, never a second truth.

A base loop owning the cursor, ranges and confirmations, over three parts: ingestion (adaptive
`eth_getLogs` ranges, `registry.indexer.ingestion`), reorganisations (`registry.indexer.reorg`) and
projection (events -> twins, `registry.indexer.projection`). Each log is recorded once (keyed by
block hash, tx hash, log index) with the cursor in the same transaction, `confirmations` blocks
behind the head; webhook deliveries go to the outbox in that same transaction.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert
from sqlmodel import Session, select

from registry.chain.client import TwinmarkChain
from registry.chain.logs import COLLECTION_EVENTS, REGISTRY_EVENTS, checksum, decode, token_of
from registry.chain.node_reads import BlockRef
from registry.db.engine import session_scope
from registry.db.lease import LeaseHolder, run_leased
from registry.events import owner_days
from registry.events.models import ChainEvent
from registry.events.public import parties, public_event
from registry.indexer import projection, reorg
from registry.indexer.ingestion import LogSource, next_range_size
from registry.indexer.models import IndexCursor
from registry.ipfs.store import ContentStore
from registry.metrics import record as metrics
from registry.settings import Settings
from registry.webhooks.outbox import Fanout

log = logging.getLogger(__name__)


class Indexer:
    def __init__(
        self, engine: Engine, chain: TwinmarkChain, store: ContentStore, settings: Settings, *, deliveries: bool = True
    ) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.deliveries = deliveries
        self.chain_id = chain.chain_id
        self.registry = chain.registry_address
        self.start_block = chain.from_block  # nothing of ours is older than the registry
        self.source = LogSource(chain, self.registry)
        self.lease = LeaseHolder(engine, f"indexer:{self.chain_id}", settings.worker_lease_seconds)
        self._collections: list[str] | None = None
        self._wake = threading.Event()
        self._idle_at: BlockRef | None = None

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

    def hydrate(self, limit: int = 20) -> int:
        """Builds the twins of batches whose rows are missing, from their IPFS directories."""
        return projection.hydrate(self.engine, self.store, limit)

    # ------------------------------------------------------------ one pass

    def step(self) -> int:
        latest = self.source.latest()
        if latest == self._idle_at:
            return 0  # nothing new since the last pass found nothing (a same-height reorg changes the hash)
        target = latest.number - self.settings.confirmations
        with session_scope(self.engine) as s:
            cursor = s.get(IndexCursor, self.chain_id)
            if cursor is None:
                cursor = IndexCursor(chain_id=self.chain_id, next_block=self.start_block)
                s.add(cursor)
        metrics.heads(self.chain_id, chain=latest.number, indexed=cursor.next_block - 1)
        if reorg.reorganised(cursor, self.source):
            metrics.reorg(self.chain_id)
            if reorg.rewind(self.engine, self.source, self.store, self.chain_id) < 0:
                self._collections = None
            return 1
        if cursor.next_block > target:
            self._idle_at = latest
            return 0
        self._idle_at = None
        with session_scope(self.engine) as s:
            known = list(self.collections(s))
        end, size, logs = self.source.fetch_adaptive(cursor.next_block, target, cursor.range_size, known)
        end_hash = self.source.block_hash(end)
        # A reorganisation may land during this pass. If it did, the logs (old chain) and `end_hash`
        # (new chain) can disagree, and the cursor would then look current while orphaned events stay
        # behind it for good. The head read first still being the chain's block at its height proves
        # that nothing below it changed meanwhile; if it is not, read everything again.
        if self.source.block_hash(latest.number) != latest.hash:
            log.info("indexer: the chain reorganised during a pass; reading the range again")
            return 1
        self._ingest(logs, end, end_hash, size)
        metrics.heads(self.chain_id, indexed=end)
        return max(1, len(logs))

    def _ingest(self, logs: list[dict[str, Any]], end: int, end_hash: str | None, size: int) -> None:
        """Records the range's events (and recounts the owner-event days they fall on), projects them,
        queues their deliveries and moves the cursor: one transaction."""
        registry = self.registry.lower()
        decoded_logs = []
        for raw in logs:
            decoded = decode(raw, REGISTRY_EVENTS if raw["address"].lower() == registry else COLLECTION_EVENTS)
            if decoded is not None:
                decoded_logs.append((raw | {"address": checksum(raw["address"])}, *decoded))
        claim_txs = {raw["transactionHash"] for raw, name, _ in decoded_logs if name == "Claimed"}
        times = self.source.block_times([raw for raw, _, _ in decoded_logs])
        moves = parties(decoded_logs)
        rows = [
            {
                "block_number": int(raw["blockNumber"], 16),
                "block_hash": raw["blockHash"],
                "tx_hash": raw["transactionHash"],
                "log_index": int(raw["logIndex"], 16),
                "address": raw["address"],
                "name": name,
                "token_id": token_of(name, args),
                "args": json.dumps(args, separators=(",", ":")),
                "block_time": times.get(raw["blockHash"]),
                "sender": moved[0],
                "recipient": moved[1],
            }
            for (raw, name, args), moved in zip(decoded_logs, moves, strict=True)
        ]
        publics = (
            [
                e
                for (raw, name, args), moved in zip(decoded_logs, moves, strict=True)
                if (e := public_event(raw, name, args, claim_txs, moved=moved)) is not None
            ]
            if self.deliveries
            else []
        )
        with session_scope(self.engine) as s:
            if rows:
                pairs = owner_days.touched(s, rows)  # before the insert: which custodians are new
                s.execute(insert(ChainEvent), rows)
                owner_days.recount(s, pairs)
            for raw, name, args in decoded_logs:
                projection.project(s, raw["address"], name, args, self.store, times.get(raw["blockHash"]))
                known = self._collections
                if name == "CollectionCreated" and known is not None and args["collection"] not in known:
                    known.append(args["collection"])
            if publics:
                fanout = Fanout(s)
                s.add_all(d for event in publics for d in fanout.deliveries(event))
            cursor = s.get(IndexCursor, self.chain_id)
            assert cursor is not None
            cursor.next_block, cursor.last_hash = end + 1, end_hash
            cursor.range_size = next_range_size(size, len(logs))
            cursor.updated_at = datetime.now(UTC)


def event_count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.exec(select(func.count()).select_from(ChainEvent)).one())
