"""What the twins need held, and how durable it is: contents are registered when a batch is recorded
(in the mint worker's transaction), each configured provider gets a `pins` row per content (the
pinner's job), and answers read the rows back as a `Durability`."""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from registry.pinning.models import Pin, PinContent, PinJobContent, PinState
from registry.pinning.schemas import Durability, ProviderPins
from registry.settings import Settings


def _insert(conn: Connection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def want(session: Session, needs: Mapping[str, Iterable[str]]) -> None:
    """Registers the root CIDs each job's twins need (`{job id: cids}`), in the caller's transaction.
    Registered always, providers or not: a provider configured later pins what came before."""
    pairs = sorted({(job, cid) for job, cids in needs.items() for cid in cids})
    if not pairs:
        return
    hold(session, (cid for _, cid in pairs))
    stmt = _insert(session.connection())(PinJobContent).on_conflict_do_nothing()
    session.connection().execute(stmt, [{"job_id": j, "cid": c} for j, c in pairs])


def hold(session: Session, cids: Iterable[str]) -> None:
    """Registers root CIDs to be pinned (a content update's new document), in the caller's transaction."""
    contents = sorted(set(cids))
    if contents:
        stmt = _insert(session.connection())(PinContent).on_conflict_do_nothing()
        session.connection().execute(stmt, [{"cid": c} for c in contents])


def public_origins(addresses: Iterable[str]) -> list[str]:
    """The multiaddrs worth sending as `origins`: ending in /p2p/<peer id>, not on a loopback, private
    or link-local address (the spec: dialable from the public internet), at most 20."""
    kept: list[str] = []
    for address in addresses:
        parts = address.split("/")
        if "/p2p/" not in address or len(parts) < 3:
            continue
        if parts[1] in ("ip4", "ip6"):
            try:
                if not ipaddress.ip_address(parts[2]).is_global:
                    continue
            except ValueError:
                continue
        kept.append(address)
    return list(dict.fromkeys(kept))[:20]


def job_contents(session: Session, job_id: str) -> list[str]:
    rows = session.exec(select(PinJobContent.cid).where(PinJobContent.job_id == job_id)).all()
    return list(rows)


def _provider_state(states: Sequence[str]) -> str:
    """Pinned when every content is; else the state that needs attention first."""
    if states and all(s == PinState.pinned for s in states):
        return PinState.pinned
    for candidate in (PinState.failed, PinState.pending, PinState.queued, PinState.pinning):
        if candidate in states or not states:
            return candidate
    return PinState.pending


def durability(session: Session, cids: Iterable[str], providers: Sequence[str], required: int) -> Durability | None:
    """How the contents `cids` are held by the configured `providers`; None when there are none."""
    if not providers:
        return None
    wanted = sorted(set(cids))
    rows = (
        session.exec(select(Pin).where(col(Pin.cid).in_(wanted), col(Pin.provider).in_(providers))).all()
        if wanted
        else []
    )
    by_provider: dict[str, dict[str, Pin]] = {p: {} for p in providers}
    for row in rows:
        by_provider[row.provider][row.cid] = row
    shown: list[ProviderPins] = []
    for name in providers:
        held = by_provider[name]
        states = [held[c].state if c in held else PinState.pending for c in wanted]
        errors = [held[c].error for c in wanted if c in held and held[c].error]
        shown.append(
            ProviderPins(
                name=name,
                state=_provider_state(states),
                pinned=sum(1 for s in states if s == PinState.pinned),
                total=len(wanted),
                error=errors[0] if errors else None,
            )
        )
    pinned_on = sum(1 for p in shown if p.state == PinState.pinned)
    return Durability(durable=pinned_on >= required, required=required, pinned_on=pinned_on, providers=shown)


def durability_for(session: Session, cids: Iterable[str], settings: Settings) -> Durability | None:
    """`durability` over the configured providers and replica count."""
    names = [p.name for p in settings.pin_providers]
    return durability(session, cids, names, settings.durable_replicas)


def pin_states(session: Session) -> dict[tuple[str, str], int]:
    """Pins by (provider, state), for a metrics layer (pins under-replicated, failing providers)."""
    query = select(Pin.provider, Pin.state, func.count()).group_by(col(Pin.provider), col(Pin.state))
    return {(provider, state): int(n) for provider, state, n in session.exec(query).all()}


class PinCounters:
    """What the pinner did in this process, by (provider, outcome): `requested`, `pinned`, `lost`
    (a pinned content the provider no longer holds), `failed:<class>`. Read by a later metrics layer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def count(self, provider: str, outcome: str) -> None:
        with self._lock:
            self._counts[(provider, outcome)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)
