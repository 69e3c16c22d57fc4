"""The brand's scans as CSV for its own data tools: streamed a page at a time (keyset, never OFFSET),
every text cell made safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, literal, tuple_
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.scans.models import Scan

CSV_FIELDS = (
    "id",
    "at",
    "channel",
    "arrival",
    "collection",
    "token_id",
    "tag_kind",
    "tag_id",
    "counter",
    "valid",
    "block_number",
    "country",
    "region",
    "latitude",
    "longitude",
    "network",
    "session",
    "agent",
    "language",
    "evidence",
)


def csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets an apostrophe
    (OWASP CSV injection). Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(engine: Engine, brand_id: str, since: datetime, until: datetime, page: int = 1000) -> Iterator[bytes]:
    """The brand's scans in time order as CSV, a page of rows per chunk (keyset: never OFFSET)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    yield out.getvalue().encode()
    after: tuple[datetime, int] | None = None
    while True:
        with session_scope(engine) as s:
            query = select(Scan).where(Scan.brand_id == brand_id, col(Scan.at) >= since, col(Scan.at) < until)
            if after is not None:
                query = query.where(tuple_(col(Scan.at), col(Scan.id)) > tuple_(literal(after[0]), literal(after[1])))
            rows = list(s.exec(query.order_by(col(Scan.at), col(Scan.id)).limit(page)))
        if not rows:
            return
        out.seek(0)
        out.truncate()
        for r in rows:
            at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
            values = [getattr(r, name) for name in CSV_FIELDS]
            values[1] = at.isoformat()
            writer.writerow([csv_cell(v) for v in values])
        yield out.getvalue().encode()
        assert rows[-1].id is not None
        after = (rows[-1].at, rows[-1].id)
