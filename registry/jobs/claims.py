"""What one mint worker may work on, across processes: signer lanes and collections, each held by at
most one worker at a time through a row of the `leases` table (`mint-lane:<address>`,
`mint:<collection>`), renewed every `worker_lease_seconds / 2` and taken over once it has expired, so
a SIGKILLed worker's lanes and collections pass to the others.

A collection is the unit of ordering (its batch ids are consecutive and its mints land in order), so
only the worker holding a collection forms, sends, follows or records its batches. Claims are split
fairly: a worker takes at most its share (`ceil(items / live workers)`, live workers being the ones
that beat within the lease time), and hands back what exceeds its share once nothing of it is in flight
(until then it sends nothing new there). A worker holding no lane claims no collection. Rows are taken
with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never wait on each other while claiming.

Fencing: a worker that stalled past its claim's expiry may find its collection taken over. `fence`,
called first in every transaction that changes a collection's batches (and around the broadcast of a
mint), locks the claim row and checks that this worker still holds it; the taker must lock that row to
take it, so taking over and acting exclude each other, and a stale worker's transaction fails with
`ClaimLost` and writes nothing. (SQLite runs one process: its single writer does the same.)
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.db.engine import session_scope
from registry.db.lease import PROCESS, Lease
from registry.jobs.models import Chunk, ChunkState
from registry.jobs.states import OPEN

NAME = "mint-worker"  # the heartbeat row readiness reads: the latest beat of any mint worker
WORKER_MEMBER = "mint-worker:"  # + holder: each live worker's own row (readiness names them all)
_MEMBER, _LANE, _COLLECTION = WORKER_MEMBER, "mint-lane:", "mint:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ClaimLost(Exception):
    """This worker no longer holds the collection (another worker took it over)."""


class Claims:
    def __init__(self, engine: Engine, seconds: float, lanes: Sequence[str], busy: Callable[[int], bool]) -> None:
        self.engine = engine
        self.name = NAME
        self.seconds = seconds
        self.holder = str(uuid.uuid4())
        self._lanes = [a.lower() for a in lanes]  # lane i's address
        self._busy = busy  # lane i has a transaction in flight (not handed on until it lands)
        self.lanes: set[int] = set()
        self.collections: set[str] = set()
        self.draining: set[str] = set()  # held beyond this worker's share: no new batches, handed on when idle
        self.dropped_lanes: set[int] = set()  # lanes held beyond the share: no new mints, handed on when idle
        self.on_lane_change: Callable[[int], None] = lambda lane: None  # another process may have used it
        self._until = _EPOCH
        self._seen: set[str] = set()  # the collections with work at the last renewal

    # ------------------------------------------------------------ the lease-holder interface (run_leased)

    def hold(self) -> bool:
        """Renews this worker's claims when due; True while it holds a lane (it may then work)."""
        now = datetime.now(UTC)
        if now >= self._until - timedelta(seconds=self.seconds / 2):
            self.renew(now)
        return bool(self.lanes)

    def catch_up(self) -> None:
        """Renews at once when a collection has work that no worker held at the last renewal (a new
        brand's first job need not wait for the renewal clock)."""
        if not self.lanes:
            return
        with session_scope(self.engine) as s:
            found = set(s.exec(select(Chunk.collection).where(col(Chunk.state).in_(OPEN)).distinct()))
        if found - self._seen:
            self.renew(datetime.now(UTC))

    def held(self) -> bool:
        return datetime.now(UTC) < self._until and bool(self.lanes)

    def release(self) -> None:
        with session_scope(self.engine) as s:
            for name in s.exec(select(Lease.name).where(Lease.holder == self.holder)).all():
                self._hand_on(s, name, delete_row=name.startswith((_MEMBER, _COLLECTION)))
        for lane in self.lanes:
            self.on_lane_change(lane)
        self.lanes, self.collections, self.draining, self.dropped_lanes = set(), set(), set(), set()
        self._until = _EPOCH

    def expire(self) -> None:
        """Renews at the next `hold` (after a claim was found lost)."""
        self._until = _EPOCH

    # ------------------------------------------------------------ claiming

    def renew(self, now: datetime) -> None:
        until = now + timedelta(seconds=self.seconds)
        lane_names = [_LANE + a for a in self._lanes]
        with session_scope(self.engine) as s:
            open_collections = set(s.exec(select(Chunk.collection).where(col(Chunk.state).in_(OPEN)).distinct()))
        self._ensure([*lane_names, *(_COLLECTION + c for c in open_collections), NAME, _MEMBER + self.holder])
        with session_scope(self.engine) as s:
            beat = s.exec(select(Lease).where(Lease.name == NAME).with_for_update()).one()
            beat.holder, beat.expires_at, beat.beat_at, beat.process = self.holder, until, now, PROCESS
            member = s.exec(select(Lease).where(Lease.name == _MEMBER + self.holder)).one()
            member.holder, member.expires_at, member.beat_at, member.process = self.holder, until, now, PROCESS
            stale = now - timedelta(seconds=max(60.0, 10 * self.seconds))  # SIGKILLed workers' rows
            s.execute(delete(Lease).where(col(Lease.name).startswith(_MEMBER), col(Lease.expires_at) < stale))
            # Claims nobody holds on collections without work (a dead worker's, finished since): gone.
            s.execute(
                delete(Lease).where(
                    col(Lease.name).startswith(_COLLECTION),
                    col(Lease.expires_at) < now,
                    col(Lease.name).not_in([_COLLECTION + c for c in open_collections]),
                )
            )
            workers = s.exec(
                select(func.count()).where(col(Lease.name).startswith(_MEMBER), col(Lease.expires_at) > now)
            ).one()
            share = math.ceil(len(lane_names) / max(1, workers))
            held_lanes = {lane_names.index(n) for n in self._claim(s, lane_names, share, now, until)}
            # Lanes beyond the share (more workers now) send nothing new and are handed on once idle.
            self.dropped_lanes = set(sorted(held_lanes)[share:])
            for lane in [i for i in self.dropped_lanes if not self._busy(i)]:
                self._hand_on(s, lane_names[lane], delete_row=False)
                held_lanes.discard(lane)
                self.dropped_lanes.discard(lane)
            names = [_COLLECTION + c for c in sorted(open_collections)] if held_lanes else []
            share = math.ceil(len(names) / max(1, self._minting(s, now))) if names else 0
            collections = {n[len(_COLLECTION) :] for n in self._claim(s, names, share, now, until)}
            # Held collections no longer open (finished), or beyond the share once nothing is in flight.
            mine = select(Lease.name).where(col(Lease.name).startswith(_COLLECTION), Lease.holder == self.holder)
            for name in s.exec(mine).all():
                if name[len(_COLLECTION) :] not in collections:
                    self._hand_on(s, name, delete_row=True)
            extra = sorted(collections)[share:]
            self.draining = self._in_flight(s, extra)
            for address in set(extra) - self.draining:
                self._hand_on(s, _COLLECTION + address, delete_row=True)
                collections.discard(address)
        changed = held_lanes ^ self.lanes
        self.lanes, self.collections, self._until, self._seen = held_lanes, collections, until, open_collections
        for lane in changed:
            self.on_lane_change(lane)

    def _hand_on(self, s: Session, name: str, *, delete_row: bool) -> None:
        # Only while still this worker's: a row another worker is taking over meanwhile stays theirs.
        mine = and_(col(Lease.name) == name, col(Lease.holder) == self.holder)
        s.execute(delete(Lease).where(mine) if delete_row else update(Lease).where(mine).values(expires_at=_EPOCH))

    def _claim(self, s: Session, names: Sequence[str], share: int, now: datetime, until: datetime) -> list[str]:
        """Renews this worker's rows among `names` and takes free or expired ones up to `share` in all
        (keeping every row it holds: beyond the share they are handed on by the caller)."""
        rows = s.exec(
            select(Lease)
            .where(col(Lease.name).in_(names), or_(col(Lease.holder) == self.holder, col(Lease.expires_at) < now))
            .order_by(col(Lease.name))
            .with_for_update(skip_locked=True)
        ).all()
        mine = [r for r in rows if r.holder == self.holder]
        free = [r for r in rows if r.holder != self.holder]
        taken = mine + free[: max(0, share - len(mine))]
        for row in taken:
            row.holder, row.expires_at, row.beat_at, row.process = self.holder, until, now, PROCESS
        return [r.name for r in taken]

    def _minting(self, s: Session, now: datetime) -> int:
        """Workers holding a lane (after this transaction's changes): the ones collections are split among."""
        return int(
            s.exec(
                select(func.count(func.distinct(Lease.holder))).where(
                    col(Lease.name).startswith(_LANE), col(Lease.expires_at) > now
                )
            ).one()
        )

    @staticmethod
    def _in_flight(s: Session, collections: Iterable[str]) -> set[str]:
        wanted = list(collections)
        if not wanted:
            return set()
        return set(
            s.exec(
                select(Chunk.collection).where(col(Chunk.collection).in_(wanted), Chunk.state == ChunkState.sent)
            ).all()
        )

    def _ensure(self, names: Iterable[str]) -> None:
        """Creates the rows that do not exist yet, free (another process may create one meanwhile)."""
        wanted = list(names)
        with session_scope(self.engine) as s:
            missing = set(wanted) - {r.name for r in s.exec(select(Lease).where(col(Lease.name).in_(wanted)))}
        for name in sorted(missing):
            try:
                with session_scope(self.engine) as s:
                    s.add(Lease(name=name, holder="", expires_at=_EPOCH))
            except IntegrityError:
                pass

    # ------------------------------------------------------------ fencing

    def fence(self, s: Session, collection: str) -> None:
        """Inside a transaction that changes the collection's batches: raises ClaimLost unless this
        worker still holds it. The claim row stays locked until the transaction ends, so nobody takes it
        over meanwhile. (The holder is what counts, not the expiry: a claim expired but not yet taken
        can only be taken through this lock, so acting on it is still safe.)"""
        row = s.exec(select(Lease).where(Lease.name == _COLLECTION + collection).with_for_update()).first()
        if row is None or row.holder != self.holder:
            self.collections.discard(collection)
            self.expire()
            raise ClaimLost(collection)
