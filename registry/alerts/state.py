"""What the rules know of a twin beside its scans: its indexed state (owner, status, claim, burn,
whether it was sold, its NFC binding) and whether its brand's keys were compromised when it was
minted, from the chain's compromise windows (kept a minute)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select

from registry.alerts import rules
from registry.brands.models import Brand
from registry.chain.layout import first_token
from registry.chain.node_reads import BlockRef, Reports
from registry.db.pairs import pairs_in
from registry.errors import ChainUnavailable
from registry.events.models import ChainEvent
from registry.nfc.models import NfcTag
from registry.twins.models import Twin


class ChainSource(Protocol):
    """What the engine reads from the chain (`TwinmarkChain` has it all)."""

    @property
    def chain_id(self) -> int: ...
    @property
    def registry_address(self) -> str: ...
    def head(self) -> BlockRef: ...
    def reports_at(self, pairs: Sequence[tuple[str, int]], block: BlockRef) -> Reports | None: ...
    def compromise_windows(self, brand_id: int) -> list[tuple[int, int]]: ...


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Windows:
    """Brands' compromise windows from the chain, kept a minute (they change by operator action)."""

    def __init__(self, chain: ChainSource | None, ttl: float = 60.0) -> None:
        self.chain, self.ttl = chain, ttl
        self._cache: dict[int, tuple[float, list[tuple[int, int]] | None]] = {}
        self._lock = threading.Lock()

    def compromised(self, chain_brand_id: int, at: int, slack: int = 0) -> bool | None:
        """Whether a window covers block time `at` (give or take `slack` seconds); None when not known."""
        if self.chain is None:
            return None
        with self._lock:
            cached = self._cache.get(chain_brand_id)
        if cached is None or time.monotonic() - cached[0] > self.ttl:
            try:
                windows: list[tuple[int, int]] | None = self.chain.compromise_windows(chain_brand_id)
            except ChainUnavailable:
                windows = None  # not known for a while: the compromise rule waits, the batch goes on
            cached = (time.monotonic(), windows)
            with self._lock:
                self._cache[chain_brand_id] = cached
        if cached[1] is None:
            return None
        return any(start <= at + slack and (end == 0 or at - slack < end) for start, end in cached[1])


def twin_states(
    session: Session, pairs: list[tuple[str, int]], windows: Windows
) -> dict[tuple[str, int], rules.TwinState]:
    """Each twin's state, in parts small enough for any database's parameter limit."""
    states: dict[tuple[str, int], rules.TwinState] = {}
    for i in range(0, len(pairs), 300):
        states |= _twin_states(session, pairs[i : i + 300], windows)
    return states


_TWIN_COLUMNS = ("collection", "token_id", "brand_id", "owner", "status", "claimed", "burned", "batch_id", "minted_at")


def _twin_states(
    session: Session, pairs: list[tuple[str, int]], windows: Windows
) -> dict[tuple[str, int], rules.TwinState]:
    # The columns the state needs, as plain rows: a whole `Twin` carries its metadata document.
    columns = [getattr(Twin.__table__.c, name) for name in _TWIN_COLUMNS]  # type: ignore[attr-defined]
    twins = {
        (t.collection, t.token_id): t
        for t in session.execute(select(*columns).where(pairs_in(Twin.collection, Twin.token_id, pairs)))
    }
    bound = set(
        session.exec(
            select(NfcTag.collection, NfcTag.token_id).where(pairs_in(NfcTag.collection, NfcTag.token_id, pairs))
        ).all()
    )
    moved: set[tuple[str, int]] = set()
    claimed_at: dict[tuple[str, int], datetime] = {}
    events = session.exec(
        select(ChainEvent.address, ChainEvent.token_id, ChainEvent.name, ChainEvent.block_time).where(
            pairs_in(ChainEvent.address, ChainEvent.token_id, pairs),
            col(ChainEvent.name).in_(["Transfer", "Claimed"]),
            # a mint's own transfers name no sender (`registry.events.public.parties`)
            (col(ChainEvent.name) == "Claimed") | col(ChainEvent.sender).is_not(None),
        )
    ).all()
    for address, token, name, block_time in events:
        assert token is not None
        moved.add((address, token))
        if name == "Claimed" and block_time is not None:
            claimed_at[(address, token)] = datetime.fromtimestamp(block_time, UTC)
    batches = {(t.collection, first_token(t.batch_id)) for t in twins.values()}
    batch_times = {
        (address, token): when
        for address, token, when in session.exec(
            select(ChainEvent.address, ChainEvent.token_id, ChainEvent.block_time).where(
                ChainEvent.name == "BatchMinted",
                pairs_in(ChainEvent.address, ChainEvent.token_id, batches),
            )
        ).all()
        if when is not None and token is not None
    }
    brand_ids = {t.brand_id for t in twins.values()}
    brands = {b.id: b for b in session.exec(select(Brand).where(col(Brand.id).in_(brand_ids)))}
    states = {}
    for key, t in twins.items():
        if t.brand_id is None:
            continue  # a twin of a brand not served here: nobody to alert
        brand = brands[t.brand_id]
        states[key] = rules.TwinState(
            collection=t.collection,
            token_id=t.token_id,
            brand_id=t.brand_id,
            owner=t.owner,
            status=t.status,
            claimed=t.claimed,
            burned=t.burned,
            sold=t.claimed or key in moved,
            claimed_at=claimed_at.get(key),
            nfc_bound=key in bound,
            compromised=_compromised(windows, brand.chain_brand_id, t, batch_times),
        )
    return states


# A twin's own record of its mint time is the worker's clock, and a chain's block times can run ahead of
# it (Anvil adds a second a block): without the batch's block time, windows within an hour count, and
# the chain's own report decides before anything is raised.
MINT_TIME_SLACK = 3600


def _compromised(
    windows: Windows, chain_brand_id: int, twin: Any, batch_times: dict[tuple[str, int], int]
) -> bool | None:
    block_time = batch_times.get((twin.collection, first_token(twin.batch_id)))
    if block_time is not None:
        return windows.compromised(chain_brand_id, block_time)
    return windows.compromised(chain_brand_id, int(aware(twin.minted_at).timestamp()), MINT_TIME_SLACK)
