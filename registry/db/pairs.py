"""`(a, b) IN ((..), (..))` written so SQLite uses the index: it plans a row-value IN list as a scan of
the whole table (5,000 twins: 12 us a pair; 10M scans: a full scan per query), but `a = ? AND b IN
(...)` as index searches. Pairs are grouped by their first value (a collection, a brand): few groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_


def pairs_in(first: Any, second: Any, pairs: Iterable[tuple[Any, Any]]) -> ColumnElement[bool]:
    """The condition `(first, second) IN pairs`, one `first = x AND second IN (...)` per distinct x."""
    grouped: dict[Any, set[Any]] = defaultdict(set)
    for a, b in pairs:
        grouped[a].add(b)
    if not grouped:
        return false()
    return or_(*(and_(first == a, second.in_(sorted(bs))) for a, bs in grouped.items()))
