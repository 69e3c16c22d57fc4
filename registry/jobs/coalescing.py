"""Which waiting chunks go out together: small chunks of one collection and kind are merged into one
batch, up to a cap, when it is full or its oldest has waited long enough. Pure: no database, no chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from registry.jobs.models import ChunkState


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
