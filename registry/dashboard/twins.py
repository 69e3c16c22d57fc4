"""A brand's twins for the console: a page at a time in (collection, token id) order, newest token
first, searched by GTIN, serial, token id or name; one twin's recent scans, coarse fields only.

Pages follow a keyset cursor over the twins' primary key and only the brand's collections are read,
so the database walks the primary key index from the cursor: no OFFSET, whatever the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import literal, or_, tuple_
from sqlmodel import Session, col, select

from registry.brands.service import collections_of
from registry.errors import InvalidInput, NotFound
from registry.scans.models import Scan
from registry.twins.gs1 import normalize_gtin
from registry.twins.models import Twin

Field = Literal["any", "gtin", "serial", "token", "name"]
FIELDS: tuple[Field, ...] = ("any", "gtin", "serial", "token", "name")
MAX_TOKEN = 2**63 - 1  # the index stores token ids as BIGINT


def encode_cursor(twin: Twin) -> str:
    return f"{twin.collection}:{twin.token_id}"


def _decode_cursor(cursor: str) -> tuple[str, int]:
    collection, _, token = cursor.partition(":")
    if not collection.startswith("0x") or len(collection) != 42 or not token.isdigit():
        raise InvalidInput("cursor is not one this service gave")
    return collection, int(token)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def guess_field(query: str) -> Field:
    """`any`: a GTIN is 8, 12, 13 or 14 digits; other digits are a token id; anything else a serial
    or a name."""
    if query.isdigit():
        return "gtin" if len(query) in (8, 12, 13, 14) else "token"
    return "any"


def page_of_twins(
    s: Session, brand_id: str, query: str = "", field: Field = "any", cursor: str | None = None, limit: int = 50
) -> tuple[list[Twin], str | None]:
    """The brand's twins matching `query` in `field`, a page at a time; the next page's cursor."""
    collections = [c.address for c in collections_of(s, brand_id)]
    if not collections:
        return [], None
    stmt = select(Twin).where(Twin.brand_id == brand_id, col(Twin.collection).in_(collections))
    query = query.strip()
    if query:
        if field == "any":
            field = guess_field(query)
        if field == "gtin":
            try:
                stmt = stmt.where(Twin.gtin == normalize_gtin(query))
            except (InvalidInput, ValueError):
                return [], None
        elif field == "token":
            if not query.isdigit() or int(query) > MAX_TOKEN:
                return [], None
            stmt = stmt.where(Twin.token_id == int(query))
        elif field == "serial":
            stmt = stmt.where(Twin.serial == query)
        elif field == "name":
            stmt = stmt.where(col(Twin.name).ilike(_like(query), escape="\\"))
        else:  # a serial or a name
            stmt = stmt.where(or_(col(Twin.serial) == query, col(Twin.name).ilike(_like(query), escape="\\")))
    if cursor:
        after = _decode_cursor(cursor)
        stmt = stmt.where(
            tuple_(col(Twin.collection), col(Twin.token_id)) < tuple_(literal(after[0]), literal(after[1]))
        )
    rows = list(s.exec(stmt.order_by(col(Twin.collection).desc(), col(Twin.token_id).desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


def own_twin(s: Session, brand_id: str, collection: str, token_id: int) -> Twin:
    """The twin, if it is this brand's; another brand's does not exist for the caller."""
    twin = s.get(Twin, (collection, token_id))
    if twin is None or twin.brand_id != brand_id:
        raise NotFound(f"no twin {token_id} in {collection}")
    return twin


@dataclass(frozen=True)
class ScanLine:
    """A scan as the console shows it: no network, no session (coarse place and device class only)."""

    at: datetime
    channel: str
    arrival: str | None
    country: str | None
    region: str | None
    agent: str | None
    tag_kind: str | None
    counter: int | None
    valid: bool | None


def recent_scans(s: Session, twin: Twin, limit: int = 50) -> list[ScanLine]:
    """The twin's newest scans first (the scan log's twin index, read backwards)."""
    rows = s.exec(
        select(Scan)
        .where(Scan.collection == twin.collection, Scan.token_id == twin.token_id, Scan.brand_id == twin.brand_id)
        .order_by(col(Scan.at).desc(), col(Scan.id).desc())
        .limit(limit)
    )
    return [
        ScanLine(r.at, r.channel, r.arrival, r.country, r.region, r.agent, r.tag_kind, r.counter, r.valid) for r in rows
    ]
