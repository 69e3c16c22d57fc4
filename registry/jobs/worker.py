"""The durable mint pipeline: the loop and the state transitions.

Each on-chain batch moves validated -> stored -> sent -> confirmed -> recorded, every state persisted
before the next step starts. The contract makes a mint name its batch id, so a batch can be minted
once and only once: whatever the worker finds after a crash (a transaction that was broadcast but not
recorded, one that was dropped, one that reverted because an earlier copy landed), it asks the chain
whether batch N carries this batch's directory and size and moves on from the answer.

Several workers (processes) mint at once: each works only on the collections and signer lanes it
holds (`claims`), and every transaction that changes a collection's batches first checks, under a
lock, that this worker still holds it (`Claims.fence`), so a stalled worker whose collection was
taken over writes and broadcasts nothing for it.

A batch is one chunk, or several small chunks of one collection and kind coalesced at `_store`: the
first leads (the worker moves leaders through the states), the others ride along at their offsets and
take every state change of their leader in the same database transaction. Which chunks go together
is `coalescing`'s rule; the SQL over batches and batch ids is the `ledger`'s; what a batch writes (its
directory, links and twin rows) is `recording`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from registry.chain.client import TwinmarkChain
from registry.chain.refusals import BrandCompromised, BrandSuspended
from registry.db.engine import session_scope
from registry.db.lease import run_leased
from registry.errors import ContractReverted
from registry.ipfs.cid import CID
from registry.ipfs.store import ContentStore, add_directory
from registry.jobs import ledger, recording
from registry.jobs.claims import NAME, ClaimLost, Claims
from registry.jobs.coalescing import coalesce
from registry.jobs.models import Chunk, ChunkState, Job
from registry.jobs.states import refresh_jobs
from registry.metrics import tracing
from registry.pinning import service as pinning
from registry.settings import Settings

log = logging.getLogger(__name__)
LEASE = NAME  # the heartbeat row of the mint workers (readiness)
_FLAG_SUSPENDED, _FLAG_COMPROMISED = 1, 2  # the brand standing a collection mirrors (`brand_flags`)


def _refusal_of(flags: int) -> str | None:
    """The custom error a mint would revert with under these brand flags (the contract checks suspension first)."""
    if flags & _FLAG_SUSPENDED:
        return "TwinmarkCollectionBrandSuspended"
    if flags & _FLAG_COMPROMISED:
        return "TwinmarkCollectionBrandCompromised"
    return None


# Reverts after which an unminted batch is simply sent again.
_RESEND = ("TwinmarkCollectionUnexpectedBatchId", "UnknownRevert")
_UNAUTHORIZED = "TwinmarkCollectionUnauthorized"  # the sending lane holds no minter role there


class MintWorker:
    def __init__(self, engine: Engine, chain: TwinmarkChain, store: ContentStore, settings: Settings) -> None:
        self.engine = engine
        self.chain = chain
        self.store = store
        self.settings = settings
        # What this worker may work on (`lease`: the interface `run_leased` drives).
        self.claims = self.lease = Claims(
            engine, settings.worker_lease_seconds, chain.lane_addresses(), busy=chain.lane_busy
        )
        self.claims.on_lane_change = chain.lane_handed_over
        self._wake = threading.Event()
        self._due_in: float | None = None  # seconds until a waiting group of small chunks falls due
        self._filling = 0  # twins in the largest waiting group at the last pass
        self._arrived = 0  # twins submitted in this process since the last pass
        self._arrived_lock = threading.Lock()
        # A coalesced batch is never bigger than a chunk (the contract takes at most 4,096 twins).
        self.cap = min(settings.coalesce_max_twins, settings.chunk_size)

    # ------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        run_leased(self.lease, self.step, stop, idle=self._idle, name="mint worker")

    def _idle(self) -> None:
        # Sleep until woken by a new job in this process, until waiting small chunks fall due, or poll again later.
        poll = self.settings.worker_poll_seconds
        deadline = time.monotonic() + (poll if self._due_in is None else min(poll, self._due_in))
        while (left := deadline - time.monotonic()) > 0 and self._wake.wait(left):
            self._wake.clear()
            with self._arrived_lock:
                arrived = self._arrived
            if self._due_in is None or self._filling + arrived >= self.cap:
                return
            # Small requests joining a batch that waits for its window: the pass when it falls due takes
            # them all; a pass per request would only take CPU from the requests.

    def wake(self, twins: int | None = None) -> None:
        """Tells an idle worker in this process that there is work (`twins` more to mint: a few of them
        do not end the wait of a filling batch)."""
        with self._arrived_lock:
            self._arrived += self.cap if twins is None else twins
        self._wake.set()

    def step(self) -> bool:
        """One pass over the unfinished batches of this worker's collections; True when something moved."""
        self.claims.catch_up()
        try:
            moved = self._advance_sent()
            moved |= self._record_confirmed()
            moved |= self._dispatch()
        except ClaimLost as exc:
            log.warning("collection %s was taken over by another worker; this one leaves it", exc)
            return True
        return moved

    def _fenced(self, s: Session, chunk_id: int | None) -> Chunk:
        """The chunk, read afresh under its row lock, after checking (under the claim row's lock, held
        to the end of the transaction) that this worker still holds its collection."""
        found = s.get(Chunk, chunk_id)
        assert found is not None
        self.claims.fence(s, found.collection)  # a chunk's collection never changes
        locked = ledger.chunk(s, chunk_id, lock=True)
        assert locked is not None
        return locked

    def drain(self, timeout: float = 120.0) -> None:
        """Runs passes until no chunk is unfinished (for tools and tests)."""
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while datetime.now(UTC) < deadline:
            self.lease.hold()
            moved = self.step()
            with session_scope(self.engine) as s:
                if ledger.unfinished(s) == 0:
                    return
            if not moved and self._due_in is not None:
                time.sleep(self._due_in)  # small chunks waiting for company: nothing to do before then
        raise TimeoutError("chunks still unfinished")

    # ------------------------------------------------------------ validated/stored -> sent

    def _dispatch(self) -> bool:
        max_in_flight = self.settings.worker_max_in_flight
        mine = self.claims.collections
        with session_scope(self.engine) as s:
            in_flight = ledger.in_flight(s, mine)
            if in_flight >= max_in_flight:
                self._due_in = None  # passes follow the batches in flight meanwhile
                return False
            with self._arrived_lock:
                self._arrived = 0  # whatever arrived so far is read below
            # Enough to fill every batch that may be sent now, whatever their sizes; none of a
            # collection being handed on to another worker.
            waiting = ledger.waiting(s, max_in_flight * self.cap, mine - self.claims.draining)
        due, self._due_in, self._filling = coalesce(
            waiting, datetime.now(UTC), self.settings.coalesce_window_seconds, self.cap
        )
        address_of = {w.id: w.collection for w in waiting}
        moved = False
        standing: dict[str, str | None] = {}
        for ids in due:
            if in_flight >= max_in_flight:
                break
            address = address_of[ids[0]]
            if address not in standing:
                standing[address] = _refusal_of(self.chain.brand_flags(address))
            if standing[address] is not None:
                # The contract would refuse this mint: fail it with the reason instead of paying for a
                # reverted transaction, and give its batch id back so the chain and the counter agree.
                for chunk_id in ids:
                    self._fail_unsent(chunk_id, str(standing[address]))
                moved = True
                continue
            lane = self.chain.free_lane(address, self.claims.lanes - self.claims.dropped_lanes)
            if lane is None:
                continue  # this collection's lane is full or stuck: the others still go
            with tracing.continued(self._trace_of(ids[0]), "mint.send", **{"twinmark.chunk": ids[0]}):
                self._store(ids[0], ids[1:])
                self._send(ids[0], lane)
            in_flight += 1
            moved = True
        return moved

    def _store(self, chunk_id: int, riders: Sequence[int] = ()) -> None:
        """Forms the batch (the chunk leads, `riders` follow at their offsets), reserves the next batch id
        of the collection and stores (pins) the batch directory."""
        # The directory is written first, outside the database transaction: creating thousands of
        # block files is the slow part of a large batch, and the database writer (SQLite's one lock)
        # would be held meanwhile. Only the claim's holder moves the collection's counter, so the id
        # read here is the one the transaction below reserves; if anything changed meanwhile (or the
        # claim was lost) the plan is dropped (its blocks, named by their hashes, are merely unused).
        with Session(self.engine) as s:
            planned = ledger.candidates(s, chunk_id, riders)
            if not planned:
                return
            batch_id = ledger.next_batch_id(s, planned[0].collection)
            files, root = recording.plan(planned, batch_id)
            planned_ids = [m.id for m in planned]
        imported = add_directory(self.store, files)  # content first: the anchor must resolve
        with session_scope(self.engine) as s:
            self._fenced(s, chunk_id)
            ledger.reserve(s, chunk_id, riders, planned_ids, batch_id, dir_cid=str(imported.cid), claim_root=root)

    def _fail_unsent(self, chunk_id: int, reason: str) -> None:
        with session_scope(self.engine) as s:
            chunk = self._fenced(s, chunk_id)
            if chunk.state not in (ChunkState.validated, ChunkState.stored):
                return
            members = ledger.members(s, chunk, lock=True) if chunk.state == ChunkState.stored else [chunk]
            log.warning("batch of chunks %s not minted: %s", [m.id for m in members], reason)
            self._fail(s, members, reason)

    @staticmethod
    def _fail(s: Session, members: list[Chunk], reason: str) -> None:
        """The batch will never be minted: its id goes back and its jobs learn why."""
        ledger.release(s, members)
        ledger.assign(members, state=ChunkState.failed, error=reason)
        refresh_jobs(s, (m.job_id for m in members))

    def _send(self, chunk_id: int, lane: int) -> None:
        with session_scope(self.engine) as s:
            leader = self._fenced(s, chunk_id)
            if leader.state != ChunkState.stored:
                return
            assert leader.batch_id is not None and leader.dir_cid is not None
            members = ledger.members(s, leader, lock=True)
            anchor = CID.parse(leader.dir_cid).digest
            root = bytes.fromhex(leader.claim_root) if leader.claim_root else b"\0" * 32
            # Broadcast inside the transaction on purpose: the batch becomes `sent` with its tx hash
            # only if the broadcast happened, and no other worker can send it meanwhile (claim + rows).
            tx_hash = self.chain.send_mint(
                leader.collection,
                leader.batch_id,
                sum(m.size for m in members),
                leader.twin_kind,
                anchor,
                root,
                lane=lane,
            )
            ledger.assign(members, tx_hash=tx_hash, state=ChunkState.sent)

    # ------------------------------------------------------------ sent -> confirmed

    def _advance_sent(self) -> bool:
        with session_scope(self.engine) as s:
            leaders = ledger.leaders(s, ChunkState.sent, self.claims.collections)
        if not leaders:
            return False
        # The sender sends dropped mints again under their own nonces, replaces stuck ones with higher
        # fees and fills nonce gaps; each batch follows its transaction through those versions.
        self.chain.tend_transactions()
        head = self.chain.block_number()
        moved = False
        for leader in leaders:
            assert leader.tx_hash is not None
            state = self.chain.tx_state(leader.tx_hash)
            receipt = state.receipt
            if receipt is None:
                if state.in_flight:
                    if state.hash != leader.tx_hash:  # replaced: remember the version on the wire
                        self._set(leader.id, ChunkState.sent, tx_hash=state.hash)
                    continue
                # Dropped, superseded, or sent by an earlier process and gone: the chain decides.
                self._reconcile(leader.id)
            elif receipt["status"] == 1:
                if head - receipt["blockNumber"] < self.settings.confirmations:
                    continue
                with tracing.continued(self._trace_of(leader.id), "mint.confirm", **{"twinmark.tx": state.hash}):
                    self._set(leader.id, ChunkState.confirmed, block_number=receipt["blockNumber"], tx_hash=state.hash)
            else:
                # Typically an earlier copy of this mint landed first; the chain says which.
                revert = self.chain.revert_reason(state.hash, receipt)
                if revert.name == _UNAUTHORIZED and self.chain.lane_refused(leader.collection, state.hash):
                    self._reconcile(leader.id)  # its lane lost the minter role: another lane sends it again
                else:
                    self._reconcile(leader.id, revert)
            moved = True
        return moved

    def _reconcile(self, chunk_id: int | None, revert: ContractReverted | None = None) -> None:
        """Decides from the chain alone whether this batch was minted, and what comes next."""
        with session_scope(self.engine) as s:
            leader = self._fenced(s, chunk_id)
            if leader.state != ChunkState.sent:
                return  # moved on meanwhile
            assert leader.batch_id is not None and leader.dir_cid is not None
            members = ledger.members(s, leader, lock=True)
            on_chain_next = self.chain.next_batch_id(leader.collection)
            if leader.batch_id < on_chain_next:
                batch = self.chain.batch(leader.collection, leader.batch_id)
                if batch.anchor == CID.parse(leader.dir_cid).digest and batch.size == sum(m.size for m in members):
                    event = self.chain.batch_minted_log(leader.collection, leader.batch_id)
                    assert event is not None
                    tx_hash, block_number = event
                    ledger.assign(members, tx_hash=tx_hash, block_number=block_number, state=ChunkState.confirmed)
                    log.info("batch %s of %s was already minted by %s", leader.batch_id, leader.collection, tx_hash)
                else:
                    # Someone else minted that batch id: take a fresh one (the directory changes with it).
                    ledger.overtaken(s, members, on_chain_next)
            elif (
                revert is not None
                and revert.name == "TwinmarkCollectionUnexpectedBatchId"
                and not ledger.held(s, leader, on_chain_next)
            ):
                # A gap: the id the chain expects was given back (its mint failed). Take a fresh id.
                ledger.fill_gap(s, members, on_chain_next)
            elif revert is None or revert.name in _RESEND:
                # Not minted (dropped, or queued behind a batch not yet minted).
                ledger.assign(members, tx_hash=None, state=ChunkState.stored)
            else:
                ledger.assign(members, tx_hash=None)
                self._fail(s, members, revert.name)

    def _set(self, chunk_id: int | None, state: ChunkState, **fields: Any) -> None:
        with session_scope(self.engine) as s:
            leader = self._fenced(s, chunk_id)
            if leader.state != ChunkState.sent:
                return  # moved on meanwhile
            ledger.assign(ledger.members(s, leader, lock=True), state=state, **fields)

    # ------------------------------------------------------------ confirmed -> recorded

    def _record_confirmed(self) -> bool:
        with session_scope(self.engine) as s:
            confirmed = ledger.leaders(s, ChunkState.confirmed, self.claims.collections)
            batches = [ledger.members(s, leader) for leader in confirmed]
        moved = False
        for members in batches:
            leader = members[0]
            try:
                refused = recording.link_batch(self.chain, members)
            except (BrandSuspended, BrandCompromised) as exc:
                # The brand may not act on chain right now: this batch waits (it is minted; only its
                # links are missing) and the pass goes on, so no other brand's jobs wait with it.
                log.warning("batch %s of %s waits for its brand: %s", leader.batch_id, leader.collection, exc)
                continue
            with tracing.continued(self._trace_of(leader.id), "mint.record", **{"twinmark.chunk": leader.id or 0}):
                self._record(leader.id, refused)
            moved = True
        return moved

    def _trace_of(self, chunk_id: int | None) -> str | None:
        """The trace context the API stored with the chunk's job (read only while tracing)."""
        if not tracing.active():
            return None
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            job = s.get(Job, chunk.job_id) if chunk is not None else None
            return job.trace_context if job is not None else None

    def _record(self, chunk_id: int | None, errors: dict[int, str]) -> None:
        """Writes the twins of the batch, each with its own chunk's job, and moves every job on."""
        with session_scope(self.engine) as s:
            leader = self._fenced(s, chunk_id)
            if leader.state != ChunkState.confirmed:
                return
            members = ledger.members(s, leader, lock=True)
            written = recording.write_twins(s, members, errors)
            pinning.want(s, written.contents)  # for the remote pinning services
            ledger.assign(members, state=ChunkState.recorded)
            refresh_jobs(s, written.jobs)
