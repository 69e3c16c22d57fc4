"""The durable mint pipeline.

Each chunk (one on-chain batch) moves validated -> stored -> sent -> confirmed -> recorded, every
state persisted before the next step starts. The contract makes a mint name its batch id, so a
batch can be minted once and only once: whatever the worker finds after a crash (a transaction
that was broadcast but not recorded, one that was dropped, one that reverted because an earlier
copy landed), it asks the chain whether batch N carries this chunk's directory and moves on from
the answer. Only one worker holds the lease at a time, across processes.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import col, select

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
from registry.jobs.states import OPEN, mark, refresh_job
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


def chunk_files(chunk: Chunk, batch_id: int) -> dict[str, bytes]:
    """The batch directory: one canonical metadata file per token, named by token id."""
    items = json.loads(chunk.payload)
    files = {str(token_id(batch_id, i)): canonical(item["metadata"]) for i, item in enumerate(items)}
    leaves = [[token_id(batch_id, i), item["claim_key"]] for i, item in enumerate(items) if item.get("claim_key")]
    if leaves:
        # Public: claim keys are addresses, useless without the secrets, and let anyone rebuild proofs.
        files[CLAIM_KEYS_FILE] = canonical({"leaves": leaves})
    return files


def claim_root(chunk: Chunk, batch_id: int) -> str | None:
    """The batch's claim commitment: a Merkle root over (token id, claim key) of its claimable twins."""
    leaves = [
        (token_id(batch_id, i), item["claim_key"])
        for i, item in enumerate(json.loads(chunk.payload))
        if item.get("claim_key")
    ]
    return ClaimTree(leaves).root.hex() if leaves else None


class MintWorker:
    def __init__(self, engine: Engine, chain: TwinmarkChain, store: ContentStore, settings: Settings) -> None:
        self.engine = engine
        self.chain = chain
        self.store = store
        self.settings = settings
        self.lease = LeaseHolder(engine, LEASE, settings.worker_lease_seconds)
        self._wake = threading.Event()

    # ------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        run_leased(self.lease, self.step, stop, idle=self._idle, name="mint worker")

    def _idle(self) -> None:
        # Sleep until woken by a new job in this process, or poll again later.
        self._wake.wait(self.settings.worker_poll_seconds)
        self._wake.clear()

    def wake(self) -> None:
        """Tells an idle worker in this process that there is work."""
        self._wake.set()

    def step(self) -> bool:
        """One pass over unfinished chunks; True when something moved."""
        moved = self._advance_sent()
        moved |= self._record_confirmed()
        moved |= self._dispatch()
        return moved

    def drain(self, timeout: float = 120.0) -> None:
        """Runs passes until no chunk is unfinished (for tools and tests)."""
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while datetime.now(UTC) < deadline:
            self.lease.hold()
            self.step()
            with session_scope(self.engine) as s:
                open_chunks = s.exec(select(func.count()).where(col(Chunk.state).in_(OPEN))).one()
            if open_chunks == 0:
                return
        raise TimeoutError("chunks still unfinished")

    # ------------------------------------------------------------ validated/stored -> sent

    def _dispatch(self) -> bool:
        with session_scope(self.engine) as s:
            in_flight = s.exec(select(func.count()).where(Chunk.state == ChunkState.sent)).one()
            rows = s.exec(
                select(Chunk.id, Chunk.collection)
                .where(col(Chunk.state).in_([ChunkState.validated, ChunkState.stored]))
                .order_by(col(Chunk.id))
                .limit(self.settings.worker_max_in_flight)
            ).all()
        moved = False
        standing: dict[str, str | None] = {}
        for chunk_id, address in rows:
            if in_flight >= self.settings.worker_max_in_flight:
                break
            assert chunk_id is not None
            if address not in standing:
                standing[address] = _refusal_of(self.chain.brand_flags(address))
            if standing[address] is not None:
                # The contract would refuse this mint: fail it with the reason instead of paying for a
                # reverted transaction, and give its batch id back so the chain and the counter agree.
                self._fail_unsent(chunk_id, str(standing[address]))
                moved = True
                continue
            self._store(chunk_id)
            self._send(chunk_id)
            in_flight += 1
            moved = True
        return moved

    def _store(self, chunk_id: int) -> None:
        """Reserves the next batch id of the collection and stores (pins) the batch directory."""
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            assert chunk is not None
            if chunk.state != ChunkState.validated:
                return
            collection = s.exec(
                select(Collection).where(Collection.address == chunk.collection).with_for_update()
            ).one()
            batch_id = collection.next_batch_id
            files = chunk_files(chunk, batch_id)
            # The IPFS write runs inside the transaction on purpose: the reserved batch id and the
            # directory it names commit together or not at all (the directory's file names are the
            # token ids), and only the lease holder writes this collection row.
            imported = add_directory(self.store, files)  # content first: the anchor must resolve
            chunk.batch_id, chunk.dir_cid, chunk.state = batch_id, str(imported.cid), ChunkState.stored
            chunk.claim_root = claim_root(chunk, batch_id)
            chunk.updated_at = datetime.now(UTC)
            collection.next_batch_id = batch_id + 1
            job = s.get(Job, chunk.job_id)
            if job is not None and job.state == JobState.accepted:
                mark(job, JobState.running)

    def _fail_unsent(self, chunk_id: int, reason: str) -> None:
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            assert chunk is not None
            if chunk.state not in (ChunkState.validated, ChunkState.stored):
                return
            log.warning("chunk %s of job %s not minted: %s", chunk.id, chunk.job_id, reason)
            self._release(s, chunk)
            chunk.state, chunk.error, chunk.updated_at = ChunkState.failed, reason, datetime.now(UTC)
            refresh_job(s, chunk.job_id)

    @staticmethod
    def _release(s: Any, chunk: Chunk) -> None:
        """Gives back the batch id a chunk reserved but will never mint. Later reservations of the
        collection not yet broadcast take fresh ids; the counter moves back to the freed id unless a
        later mint is in flight (that one reverts with UnexpectedBatchId and is re-homed then)."""
        if chunk.batch_id is None:
            return
        freed = chunk.batch_id
        collection = s.exec(select(Collection).where(Collection.address == chunk.collection).with_for_update()).one()
        later = s.exec(
            select(Chunk).where(
                Chunk.collection == chunk.collection,
                col(Chunk.batch_id) > freed,
                col(Chunk.state).in_([ChunkState.stored, ChunkState.sent]),
            )
        ).all()
        for other in later:
            if other.state == ChunkState.stored:
                other.batch_id = other.dir_cid = other.claim_root = None
                other.state, other.updated_at = ChunkState.validated, datetime.now(UTC)
        if not any(other.state == ChunkState.sent for other in later):
            collection.next_batch_id = freed
        chunk.batch_id = chunk.dir_cid = chunk.claim_root = None

    def _send(self, chunk_id: int) -> None:
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            assert chunk is not None and chunk.batch_id is not None and chunk.dir_cid is not None
            if chunk.state != ChunkState.stored:
                return
            anchor = CID.parse(chunk.dir_cid).digest
            root = bytes.fromhex(chunk.claim_root) if chunk.claim_root else b"\0" * 32
            # Broadcast inside the transaction on purpose: the chunk becomes `sent` with its tx hash
            # only if the broadcast happened, and no second pass can send it meanwhile (lease + row).
            chunk.tx_hash = self.chain.send_mint(
                chunk.collection, chunk.batch_id, chunk.size, chunk.twin_kind, anchor, root
            )
            chunk.state = ChunkState.sent
            chunk.updated_at = datetime.now(UTC)

    # ------------------------------------------------------------ sent -> confirmed

    def _advance_sent(self) -> bool:
        with session_scope(self.engine) as s:
            chunks = s.exec(select(Chunk).where(Chunk.state == ChunkState.sent).order_by(col(Chunk.id))).all()
        if not chunks:
            return False
        # The sender sends dropped mints again under their own nonces, replaces stuck ones with higher
        # fees and fills nonce gaps; each chunk follows its transaction through those versions.
        self.chain.tend_transactions()
        head = self.chain.block_number()
        moved = False
        for chunk in chunks:
            assert chunk.tx_hash is not None
            state = self.chain.tx_state(chunk.tx_hash)
            receipt = state.receipt
            if receipt is None:
                if state.in_flight:
                    if state.hash != chunk.tx_hash:  # replaced: remember the version on the wire
                        self._set(chunk.id, ChunkState.sent, tx_hash=state.hash)
                    continue
                # Dropped, superseded, or sent by an earlier process and gone: the chain decides.
                self._reconcile(chunk.id)
            elif receipt["status"] == 1:
                if head - receipt["blockNumber"] < self.settings.confirmations:
                    continue
                self._set(chunk.id, ChunkState.confirmed, block_number=receipt["blockNumber"], tx_hash=state.hash)
            else:
                # Typically an earlier copy of this mint landed first; the chain says which.
                self._reconcile(chunk.id, self.chain.revert_reason(state.hash, receipt))
            moved = True
        return moved

    def _reconcile(self, chunk_id: int | None, revert: ContractReverted | None = None) -> None:
        """Decides from the chain alone whether this chunk's batch was minted, and what comes next."""
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            assert chunk is not None and chunk.batch_id is not None and chunk.dir_cid is not None
            on_chain_next = self.chain.next_batch_id(chunk.collection)
            if chunk.batch_id < on_chain_next:
                batch = self.chain.batch(chunk.collection, chunk.batch_id)
                if batch.anchor == CID.parse(chunk.dir_cid).digest and batch.size == chunk.size:
                    event = self.chain.batch_minted_log(chunk.collection, chunk.batch_id)
                    assert event is not None
                    chunk.tx_hash, chunk.block_number = event
                    chunk.state = ChunkState.confirmed
                    log.info("batch %s of %s was already minted by %s", chunk.batch_id, chunk.collection, chunk.tx_hash)
                else:
                    # Someone else minted that batch id: take a fresh one (the directory changes with it).
                    collection = s.exec(
                        select(Collection).where(Collection.address == chunk.collection).with_for_update()
                    ).one()
                    collection.next_batch_id = max(collection.next_batch_id, on_chain_next)
                    chunk.batch_id = chunk.dir_cid = chunk.tx_hash = None
                    chunk.state = ChunkState.validated
            elif (
                revert is not None
                and revert.name == "TwinmarkCollectionUnexpectedBatchId"
                and not self._held(s, chunk, on_chain_next)
            ):
                # A gap: the id the chain expects was given back (its mint failed). Take a fresh id.
                collection = s.exec(
                    select(Collection).where(Collection.address == chunk.collection).with_for_update()
                ).one()
                chunk.batch_id = chunk.dir_cid = chunk.claim_root = chunk.tx_hash = None
                chunk.state = ChunkState.validated
                collection.next_batch_id = min(collection.next_batch_id, on_chain_next)
            elif revert is None or revert.name in _RESEND:
                chunk.tx_hash = None
                chunk.state = ChunkState.stored  # not minted (dropped, or queued behind a batch not yet minted)
            else:
                chunk.tx_hash = None
                self._release(s, chunk)
                chunk.state, chunk.error = ChunkState.failed, revert.name
                refresh_job(s, chunk.job_id)
            chunk.updated_at = datetime.now(UTC)

    @staticmethod
    def _held(s: Any, chunk: Chunk, batch_id: int) -> bool:
        """Whether another live chunk of the collection holds `batch_id` (this one is just queued)."""
        holder = s.exec(
            select(Chunk.id).where(
                Chunk.collection == chunk.collection,
                Chunk.batch_id == batch_id,
                Chunk.id != chunk.id,
                col(Chunk.state).in_([ChunkState.stored, ChunkState.sent]),
            )
        ).first()
        return holder is not None

    def _set(self, chunk_id: int | None, state: ChunkState, **fields: Any) -> None:
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            assert chunk is not None
            chunk.state = state
            for k, v in fields.items():
                setattr(chunk, k, v)
            chunk.updated_at = datetime.now(UTC)

    # ------------------------------------------------------------ confirmed -> recorded

    def _record_confirmed(self) -> bool:
        with session_scope(self.engine) as s:
            chunks = s.exec(select(Chunk).where(Chunk.state == ChunkState.confirmed).order_by(col(Chunk.id))).all()
        moved = False
        for chunk in chunks:
            try:
                self._link(chunk)
            except (BrandSuspended, BrandCompromised) as exc:
                # The brand may not act on chain right now: this chunk waits (it is minted; only its
                # links are missing) and the pass goes on, so no other brand's jobs wait with it.
                log.warning("batch %s of %s waits for its brand: %s", chunk.batch_id, chunk.collection, exc)
                continue
            except LinkRefused as exc:
                # A link the contract refuses for good (its target destroyed since submission): the twins
                # are minted and are recorded; the refusal is kept on the batch, and nobody waits on it.
                log.warning("batch %s of %s: link refused: %s", chunk.batch_id, chunk.collection, exc.detail)
                self._set(chunk.id, ChunkState.confirmed, error=f"link refused: {exc.detail}")
            self._record(chunk.id)
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
            tid = token_id(chunk.batch_id, i)
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

    def _record(self, chunk_id: int | None) -> None:
        with session_scope(self.engine) as s:
            chunk = s.get(Chunk, chunk_id)
            assert chunk is not None and chunk.batch_id is not None
            if chunk.state != ChunkState.confirmed:
                return
            job = s.get(Job, chunk.job_id)
            assert job is not None
            rows = []
            for i, item in enumerate(json.loads(chunk.payload)):
                tid = token_id(chunk.batch_id, i)
                document = canonical(item["metadata"])
                rows.append(
                    {
                        "collection": chunk.collection,
                        "token_id": tid,
                        "brand_id": job.brand_id,
                        "job_id": job.id,
                        "batch_id": chunk.batch_id,
                        "kind": item["kind"],
                        "name": item["name"],
                        "gtin": item.get("gtin"),
                        "serial": item.get("serial"),
                        "claim_key": item.get("claim_key"),
                        "metadata_cid": str(import_bytes(document).cid),
                        "dir_cid": chunk.dir_cid,
                        "token_uri": f"ipfs://{chunk.dir_cid}/{tid}",
                        "tx_hash": chunk.tx_hash,
                        "block_number": chunk.block_number or 0,
                        "minted_at": datetime.now(UTC),
                        "metadata_json": document.decode(),
                    }
                )
            upsert_twins(s, rows, fill=("job_id", "brand_id", "claim_key"))
            chunk.state = ChunkState.recorded
            chunk.updated_at = datetime.now(UTC)
            job.recorded += chunk.size
            refresh_job(s, job.id)
