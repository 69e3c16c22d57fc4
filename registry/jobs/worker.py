"""The durable mint pipeline.

Each on-chain batch moves validated -> stored -> sent -> confirmed -> recorded, every state persisted
before the next step starts. The contract makes a mint name its batch id, so a batch can be minted
once and only once: whatever the worker finds after a crash (a transaction that was broadcast but not
recorded, one that was dropped, one that reverted because an earlier copy landed), it asks the chain
whether batch N carries this batch's directory and size and moves on from the answer. Only one worker
holds the lease at a time, across processes.

A batch is one chunk, or several small chunks of one collection and kind coalesced at `_store`: the
first leads (the worker moves leaders through the states), the others ride along at their offsets and
take every state change of their leader in the same database transaction.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.chain.client import TwinmarkChain
from registry.chain.layout import token_id
from registry.chain.refusals import BrandCompromised, BrandSuspended
from registry.claims.merkle import ClaimTree
from registry.db.engine import session_scope
from registry.db.lease import LeaseHolder, run_leased
from registry.errors import ContractReverted, TwinmarkError
from registry.ipfs.cid import CID
from registry.ipfs.store import ContentStore, add_directory
from registry.ipfs.unixfs import import_bytes
from registry.jobs.models import Chunk, ChunkState, Job, JobState
from registry.jobs.states import OPEN, refresh_jobs
from registry.settings import Settings
from registry.twins.metadata import canonical
from registry.twins.projection import CLAIM_KEYS_FILE, upsert_twins

log = logging.getLogger(__name__)
LEASE = "mint-worker"
_FLAG_SUSPENDED, _FLAG_COMPROMISED = 1, 2


class LinkRefused(TwinmarkError):
    code, status, title = "link-refused", 409, "The contract refused a link"


def _refusal_of(flags: int) -> str | None:
    """The custom error a mint would revert with under these brand flags (the contract checks suspension first)."""
    if flags & _FLAG_SUSPENDED:
        return "TwinmarkCollectionBrandSuspended"
    if flags & _FLAG_COMPROMISED:
        return "TwinmarkCollectionBrandCompromised"
    return None


# Reverts after which an unminted batch is simply sent again.
_RESEND = ("TwinmarkCollectionUnexpectedBatchId", "UnknownRevert")


def batch_items(members: Sequence[Chunk]) -> list[dict[str, Any]]:
    """The twins of a batch in token order: its chunks' payloads one after another, by offset."""
    return [item for m in sorted(members, key=lambda c: c.batch_offset) for item in json.loads(m.payload)]


def chunk_files(members: Sequence[Chunk], batch_id: int) -> dict[str, bytes]:
    """The batch directory: one canonical metadata file per token, named by token id."""
    items = batch_items(members)
    files = {str(token_id(batch_id, i)): canonical(item["metadata"]) for i, item in enumerate(items)}
    leaves = [[token_id(batch_id, i), item["claim_key"]] for i, item in enumerate(items) if item.get("claim_key")]
    if leaves:
        # Public: claim keys are addresses, useless without the secrets, and let anyone rebuild proofs.
        files[CLAIM_KEYS_FILE] = canonical({"leaves": leaves})
    return files


def claim_root(members: Sequence[Chunk], batch_id: int) -> str | None:
    """The batch's claim commitment: a Merkle root over (token id, claim key) of its claimable twins,
    whichever of its chunks they came from (claims prove against the whole batch's tree)."""
    items = batch_items(members)
    leaves = [(token_id(batch_id, i), item["claim_key"]) for i, item in enumerate(items) if item.get("claim_key")]
    return ClaimTree(leaves).root.hex() if leaves else None


@dataclass(frozen=True)
class Waiting:
    """A chunk waiting to be minted, as the dispatcher sees it."""

    id: int
    collection: str
    kind: int
    size: int
    state: str
    since: datetime  # when its request was accepted


@dataclass
class _Group:
    oldest: datetime
    ids: list[int] = field(default_factory=list)
    size: int = 0


def coalesce(
    waiting: Sequence[Waiting], now: datetime, window: float, cap: int
) -> tuple[list[list[int]], float | None, int]:
    """The batches to mint now, each a list of chunk ids (leader first), oldest first; the seconds until
    the next waiting group falls due (None: nothing waits); and the twins of the largest waiting group.

    A chunk already stored (its batch formed) or of at least `cap` twins goes alone and at once. Smaller
    chunks of one collection and kind are merged, up to `cap` twins, and go as soon as they are full
    or their oldest has waited `window` seconds."""
    due: list[list[int]] = []
    groups: dict[tuple[str, int], _Group] = {}
    for w in waiting:
        if w.state == ChunkState.stored or w.size >= cap:
            due.append([w.id])
            continue
        key = (w.collection, w.kind)
        group = groups.get(key)
        if group is not None and group.size + w.size > cap:
            due.append(group.ids)  # as full as it gets: the next one does not fit
            group = None
        if group is None:
            group = groups[key] = _Group(oldest=w.since)
        group.ids.append(w.id)
        group.size += w.size
        if group.size >= cap:
            due.append(group.ids)
            del groups[key]
    next_due: float | None = None
    filling = 0
    for group in groups.values():
        left = window - (now - group.oldest).total_seconds()
        if left <= 0:
            due.append(group.ids)
        else:
            next_due = left if next_due is None else min(next_due, left)
            filling = max(filling, group.size)
    due.sort(key=lambda ids: ids[0])
    return due, next_due, filling


class MintWorker:
    def __init__(self, engine: Engine, chain: TwinmarkChain, store: ContentStore, settings: Settings) -> None:
        self.engine = engine
        self.chain = chain
        self.store = store
        self.settings = settings
        self.lease = LeaseHolder(engine, LEASE, settings.worker_lease_seconds)
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
        """One pass over unfinished batches; True when something moved."""
        moved = self._advance_sent()
        moved |= self._record_confirmed()
        moved |= self._dispatch()
        return moved

    def drain(self, timeout: float = 120.0) -> None:
        """Runs passes until no chunk is unfinished (for tools and tests)."""
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while datetime.now(UTC) < deadline:
            self.lease.hold()
            moved = self.step()
            with session_scope(self.engine) as s:
                open_chunks = s.exec(select(func.count()).where(col(Chunk.state).in_(OPEN))).one()
            if open_chunks == 0:
                return
            if not moved and self._due_in is not None:
                time.sleep(self._due_in)  # small chunks waiting for company: nothing to do before then
        raise TimeoutError("chunks still unfinished")

    @staticmethod
    def _members(s: Any, leader: Chunk) -> list[Chunk]:
        """The chunks of the leader's batch, in token order (the leader first)."""
        riders = s.exec(select(Chunk).where(Chunk.leader_id == leader.id).order_by(col(Chunk.batch_offset))).all()
        return [leader, *riders]

    @staticmethod
    def _assign(members: Sequence[Chunk], **fields: Any) -> None:
        """A change of the batch, made to each of its chunks."""
        now = datetime.now(UTC)
        for m in members:
            for k, v in fields.items():
                setattr(m, k, v)
            m.updated_at = now

    @classmethod
    def _unform(cls, members: Sequence[Chunk]) -> None:
        """Back to waiting chunks: the batch id is not theirs (the directory names it), and they are
        grouped again at the next dispatch."""
        cls._assign(
            members,
            state=ChunkState.validated,
            batch_id=None,
            dir_cid=None,
            claim_root=None,
            tx_hash=None,
            leader_id=None,
            batch_offset=0,
        )

    # ------------------------------------------------------------ validated/stored -> sent

    def _waiting(self) -> list[Waiting]:
        with session_scope(self.engine) as s:
            # sqlalchemy's select: sqlmodel's is typed for at most four columns. The payload stays unread.
            rows = s.execute(
                sa_select(
                    col(Chunk.id),
                    col(Chunk.collection),
                    col(Chunk.twin_kind),
                    col(Chunk.size),
                    col(Chunk.state),
                    col(Job.created_at),
                )
                .join(Job, col(Job.id) == col(Chunk.job_id))
                .where(col(Chunk.state).in_([ChunkState.validated, ChunkState.stored]), col(Chunk.leader_id).is_(None))
                .order_by(col(Chunk.id))
                # Enough to fill every batch that may be sent now, whatever their sizes.
                .limit(self.settings.worker_max_in_flight * self.cap)
            ).all()
        return [
            Waiting(id=i, collection=c, kind=k, size=n, state=st, since=t if t.tzinfo else t.replace(tzinfo=UTC))
            for i, c, k, n, st, t in rows
            if i is not None
        ]

    def _dispatch(self) -> bool:
        with session_scope(self.engine) as s:
            in_flight = s.exec(
                select(func.count()).where(Chunk.state == ChunkState.sent, col(Chunk.leader_id).is_(None))
            ).one()
        if in_flight >= self.settings.worker_max_in_flight:
            self._due_in = None  # passes follow the batches in flight meanwhile
            return False
        with self._arrived_lock:
            self._arrived = 0  # whatever arrived so far is read below
        waiting = self._waiting()
        due, self._due_in, self._filling = coalesce(
            waiting, datetime.now(UTC), self.settings.coalesce_window_seconds, self.cap
        )
        address_of = {w.id: w.collection for w in waiting}
        moved = False
        standing: dict[str, str | None] = {}
        for ids in due:
            if in_flight >= self.settings.worker_max_in_flight:
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
            self._store(ids[0], ids[1:])
            self._send(ids[0])
            in_flight += 1
            moved = True
        return moved

    def _batch_members(self, s: Session, chunk_id: int, riders: Sequence[int]) -> list[Chunk]:
        """The leader (still waiting) and those of `riders` that can still join it, in order."""
        leader = s.get(Chunk, chunk_id)
        if leader is None or leader.state != ChunkState.validated:
            return []
        members = [leader]
        if riders:
            members += s.exec(
                select(Chunk)
                .where(
                    col(Chunk.id).in_(riders),
                    Chunk.state == ChunkState.validated,
                    Chunk.collection == leader.collection,
                    Chunk.twin_kind == leader.twin_kind,
                )
                .order_by(col(Chunk.id))
            ).all()
        return members

    def _store(self, chunk_id: int, riders: Sequence[int] = ()) -> None:
        """Forms the batch (the chunk leads, `riders` follow at their offsets), reserves the next batch id
        of the collection and stores (pins) the batch directory."""
        # The directory is written first, outside the database transaction: creating thousands of
        # block files is the slow part of a large batch, and the database writer (SQLite's one lock)
        # would be held meanwhile. Only the lease holder moves the collection's counter, so the id
        # read here is the one the transaction below reserves; if anything changed meanwhile the plan
        # is dropped (its blocks, named by their hashes, are merely unused) and the next pass redoes it.
        with Session(self.engine) as s:
            planned = self._batch_members(s, chunk_id, riders)
            if not planned:
                return
            collection_row = s.get(Collection, planned[0].collection)
            assert collection_row is not None
            batch_id = collection_row.next_batch_id
            files = chunk_files(planned, batch_id)
            root = claim_root(planned, batch_id)
            planned_ids = [m.id for m in planned]
            address = planned[0].collection
        imported = add_directory(self.store, files)  # content first: the anchor must resolve
        with session_scope(self.engine) as s:
            members = self._batch_members(s, chunk_id, riders)
            leader = members[0] if members else None
            collection = s.exec(select(Collection).where(Collection.address == address).with_for_update()).one()
            if [m.id for m in members] != planned_ids or collection.next_batch_id != batch_id or leader is None:
                return
            offset = 0
            for m in members:
                m.leader_id, m.batch_offset = (None if m is leader else leader.id), offset
                offset += m.size
            self._assign(
                members,
                batch_id=batch_id,
                dir_cid=str(imported.cid),
                claim_root=root,
                state=ChunkState.stored,
            )
            collection.next_batch_id = batch_id + 1
            s.execute(
                update(Job)
                .where(col(Job.id).in_({m.job_id for m in members}), col(Job.state) == JobState.accepted)
                .values(state=JobState.running, updated_at=datetime.now(UTC))
            )

    def _fail_unsent(self, chunk_id: int, reason: str) -> None:
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            assert chunk is not None
            if chunk.state not in (ChunkState.validated, ChunkState.stored):
                return
            members = self._members(s, chunk) if chunk.state == ChunkState.stored else [chunk]
            log.warning("batch of chunks %s not minted: %s", [m.id for m in members], reason)
            self._release(s, members)
            self._assign(members, state=ChunkState.failed, error=reason)
            refresh_jobs(s, (m.job_id for m in members))

    @classmethod
    def _release(cls, s: Any, members: Sequence[Chunk]) -> None:
        """Gives back the batch id a batch reserved but will never mint. Later reservations of the
        collection not yet broadcast take fresh ids; the counter moves back to the freed id unless a
        later mint is in flight (that one reverts with UnexpectedBatchId and is re-homed then)."""
        leader = members[0]
        if leader.batch_id is None:
            return
        freed = leader.batch_id
        collection = s.exec(select(Collection).where(Collection.address == leader.collection).with_for_update()).one()
        later = s.exec(
            select(Chunk).where(
                Chunk.collection == leader.collection,
                col(Chunk.batch_id) > freed,
                col(Chunk.state).in_([ChunkState.stored, ChunkState.sent]),
            )
        ).all()
        cls._unform([other for other in later if other.state == ChunkState.stored])
        if not any(other.state == ChunkState.sent for other in later):
            collection.next_batch_id = freed
        cls._assign(members, batch_id=None, dir_cid=None, claim_root=None, leader_id=None, batch_offset=0)

    def _send(self, chunk_id: int) -> None:
        with session_scope(self.engine) as s:
            leader = s.get(Chunk, chunk_id)
            assert leader is not None
            if leader.state != ChunkState.stored:
                return
            assert leader.batch_id is not None and leader.dir_cid is not None
            members = self._members(s, leader)
            anchor = CID.parse(leader.dir_cid).digest
            root = bytes.fromhex(leader.claim_root) if leader.claim_root else b"\0" * 32
            # Broadcast inside the transaction on purpose: the batch becomes `sent` with its tx hash
            # only if the broadcast happened, and no second pass can send it meanwhile (lease + row).
            tx_hash = self.chain.send_mint(
                leader.collection, leader.batch_id, sum(m.size for m in members), leader.twin_kind, anchor, root
            )
            self._assign(members, tx_hash=tx_hash, state=ChunkState.sent)

    # ------------------------------------------------------------ sent -> confirmed

    def _advance_sent(self) -> bool:
        with session_scope(self.engine) as s:
            leaders = s.exec(
                select(Chunk)
                .where(Chunk.state == ChunkState.sent, col(Chunk.leader_id).is_(None))
                .order_by(col(Chunk.id))
            ).all()
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
                self._set(leader.id, ChunkState.confirmed, block_number=receipt["blockNumber"], tx_hash=state.hash)
            else:
                # Typically an earlier copy of this mint landed first; the chain says which.
                self._reconcile(leader.id, self.chain.revert_reason(state.hash, receipt))
            moved = True
        return moved

    def _reconcile(self, chunk_id: int | None, revert: ContractReverted | None = None) -> None:
        """Decides from the chain alone whether this batch was minted, and what comes next."""
        with session_scope(self.engine) as s:
            leader = s.get(Chunk, chunk_id)
            assert leader is not None and leader.batch_id is not None and leader.dir_cid is not None
            members = self._members(s, leader)
            on_chain_next = self.chain.next_batch_id(leader.collection)
            if leader.batch_id < on_chain_next:
                batch = self.chain.batch(leader.collection, leader.batch_id)
                if batch.anchor == CID.parse(leader.dir_cid).digest and batch.size == sum(m.size for m in members):
                    event = self.chain.batch_minted_log(leader.collection, leader.batch_id)
                    assert event is not None
                    tx_hash, block_number = event
                    self._assign(members, tx_hash=tx_hash, block_number=block_number, state=ChunkState.confirmed)
                    log.info("batch %s of %s was already minted by %s", leader.batch_id, leader.collection, tx_hash)
                else:
                    # Someone else minted that batch id: take a fresh one (the directory changes with it).
                    collection = s.exec(
                        select(Collection).where(Collection.address == leader.collection).with_for_update()
                    ).one()
                    collection.next_batch_id = max(collection.next_batch_id, on_chain_next)
                    self._unform(members)
            elif (
                revert is not None
                and revert.name == "TwinmarkCollectionUnexpectedBatchId"
                and not self._held(s, leader, on_chain_next)
            ):
                # A gap: the id the chain expects was given back (its mint failed). Take a fresh id.
                collection = s.exec(
                    select(Collection).where(Collection.address == leader.collection).with_for_update()
                ).one()
                self._unform(members)
                collection.next_batch_id = min(collection.next_batch_id, on_chain_next)
            elif revert is None or revert.name in _RESEND:
                # Not minted (dropped, or queued behind a batch not yet minted).
                self._assign(members, tx_hash=None, state=ChunkState.stored)
            else:
                self._assign(members, tx_hash=None)
                self._release(s, members)
                self._assign(members, state=ChunkState.failed, error=revert.name)
                refresh_jobs(s, (m.job_id for m in members))

    @staticmethod
    def _held(s: Any, leader: Chunk, batch_id: int) -> bool:
        """Whether another live batch of the collection holds `batch_id` (this one is just queued)."""
        holder = s.exec(
            select(Chunk.id).where(
                Chunk.collection == leader.collection,
                Chunk.batch_id == batch_id,
                func.coalesce(Chunk.leader_id, Chunk.id) != leader.id,
                col(Chunk.state).in_([ChunkState.stored, ChunkState.sent]),
            )
        ).first()
        return holder is not None

    def _set(self, chunk_id: int | None, state: ChunkState, **fields: Any) -> None:
        with session_scope(self.engine) as s:
            leader = s.get(Chunk, chunk_id)
            assert leader is not None
            self._assign(self._members(s, leader), state=state, **fields)

    # ------------------------------------------------------------ confirmed -> recorded

    def _record_confirmed(self) -> bool:
        with session_scope(self.engine) as s:
            batches = [
                self._members(s, leader)
                for leader in s.exec(
                    select(Chunk)
                    .where(Chunk.state == ChunkState.confirmed, col(Chunk.leader_id).is_(None))
                    .order_by(col(Chunk.id))
                ).all()
            ]
        moved = False
        for members in batches:
            leader = members[0]
            refused: dict[int, str] = {}
            try:
                for m in members:
                    try:
                        self._link(m)
                    except LinkRefused as exc:
                        # A link the contract refuses for good (its target destroyed since submission): the
                        # twins are minted and are recorded; the refusal is kept on the chunk, nobody waits on it.
                        log.warning("batch %s of %s: link refused: %s", m.batch_id, m.collection, exc.detail)
                        assert m.id is not None
                        refused[m.id] = f"link refused: {exc.detail}"
            except (BrandSuspended, BrandCompromised) as exc:
                # The brand may not act on chain right now: this batch waits (it is minted; only its
                # links are missing) and the pass goes on, so no other brand's jobs wait with it.
                log.warning("batch %s of %s waits for its brand: %s", leader.batch_id, leader.collection, exc)
                continue
            self._record(leader.id, refused)
            moved = True
        return moved

    def _link(self, chunk: Chunk) -> None:
        """On-chain links of virtual twins to their physical counterparts (idempotent). Links the
        contract refuses for good are skipped and reported together once the others are made."""
        assert chunk.batch_id is not None
        refused: list[str] = []
        for i, item in enumerate(json.loads(chunk.payload)):
            link = item.get("link")
            if not link:
                continue
            tid = token_id(chunk.batch_id, chunk.batch_offset + i)
            current = self.chain.link_of(chunk.collection, tid)
            if current[0].lower() == link["contract"].lower() and current[1] == link["token_id"]:
                continue
            try:
                self.chain.link_physical(chunk.collection, tid, link["contract"], link["token_id"])
            except (BrandSuspended, BrandCompromised):
                raise
            except TwinmarkError as exc:
                if exc.status >= 500:
                    raise
                refused.append(f"token {tid}: {exc.detail}")
        if refused:
            raise LinkRefused("; ".join(refused))

    def _record(self, chunk_id: int | None, errors: dict[int, str] | None = None) -> None:
        """Writes the twins of the batch, each with its own chunk's job, and moves every job on."""
        with session_scope(self.engine) as s:
            leader = s.get(Chunk, chunk_id)
            assert leader is not None and leader.batch_id is not None
            if leader.state != ChunkState.confirmed:
                return
            members = self._members(s, leader)
            jobs = {j.id: j for j in s.exec(select(Job).where(col(Job.id).in_({m.job_id for m in members})))}
            rows = []
            for m in members:
                job = jobs[m.job_id]
                for i, item in enumerate(json.loads(m.payload)):
                    tid = token_id(leader.batch_id, m.batch_offset + i)
                    document = canonical(item["metadata"])
                    rows.append(
                        {
                            "collection": leader.collection,
                            "token_id": tid,
                            "brand_id": job.brand_id,
                            "job_id": job.id,
                            "batch_id": leader.batch_id,
                            "kind": item["kind"],
                            "name": item["name"],
                            "gtin": item.get("gtin"),
                            "serial": item.get("serial"),
                            "claim_key": item.get("claim_key"),
                            "metadata_cid": str(import_bytes(document).cid),
                            "dir_cid": leader.dir_cid,
                            "token_uri": f"ipfs://{leader.dir_cid}/{tid}",
                            "tx_hash": leader.tx_hash,
                            "block_number": leader.block_number or 0,
                            "minted_at": datetime.now(UTC),
                            "metadata_json": document.decode(),
                        }
                    )
                job.recorded += m.size
                if errors and m.id in errors:
                    m.error = errors[m.id]
            upsert_twins(s, rows, fill=("job_id", "brand_id", "claim_key"))
            self._assign(members, state=ChunkState.recorded)
            refresh_jobs(s, jobs)
