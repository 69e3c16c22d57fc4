"""The console's working lists a page at a time, newest first: a brand's jobs, its NFC tags, one
webhook's deliveries. Keyset cursors as the twins' list and the audit log page (no OFFSET): the
next page starts strictly after the last row shown, so a row added meanwhile never shifts a page.

Cursors are opaque to callers and shaped as the twins' list gives its own, `<key>:<key>`: the last
row's creation time (microseconds since the epoch) and its id, which breaks ties. Anything else is
refused as `InvalidInput` (422), never read as a first page or passed to the database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, DateTime, String, literal, tuple_
from sqlmodel import Session, col, select

from registry.errors import InvalidInput
from registry.jobs.models import Job
from registry.nfc.models import NfcTag
from registry.webhooks import service as hooks
from registry.webhooks.models import Delivery, Subscription
from registry.webhooks.schemas import DeliveryOut

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# ASCII digits only (`\d` takes any script's): 17 digits of microseconds stay below the year 5140.
# Ids: UUIDs (jobs, tags) or integers below 2**63 (deliveries); any URL-safe id up to 64 characters.
_TIMED = re.compile(r"([0-9]{1,17}):([0-9A-Za-z_-]{1,64})")
REFUSED = "cursor is not one this service gave"


def timed_cursor(at: datetime, ident: str) -> str:
    """`at` (naive means UTC: SQLite gives times back without their zone) and the row's id."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return f"{(aware - EPOCH) // timedelta(microseconds=1)}:{ident}"


def read_timed_cursor(cursor: str) -> tuple[datetime, str]:
    found = _TIMED.fullmatch(cursor)
    if found is None:
        raise InvalidInput(REFUSED)
    return EPOCH + timedelta(microseconds=int(found[1])), found[2]


def page_of_jobs(
    s: Session, brand_id: str, cursor: str | None = None, *, labelled: bool = False, limit: int = 50
) -> tuple[list[Job], str | None]:
    """The brand's jobs, newest first (`labelled`: only those with twins recorded, which have labels);
    the next page's cursor, None on the last page."""
    query = select(Job).where(col(Job.brand_id) == brand_id)
    if labelled:
        query = query.where(col(Job.recorded) > 0)
    if cursor:
        at, ident = read_timed_cursor(cursor)
        after = tuple_(literal(at, DateTime(timezone=True)), literal(ident, String()))
        query = query.where(tuple_(col(Job.created_at), col(Job.id)) < after)
    rows = list(s.exec(query.order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return rows, timed_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None


def page_of_tags(
    s: Session, brand_id: str, cursor: str | None = None, *, limit: int = 200
) -> tuple[list[NfcTag], str | None]:
    """The brand's enrolled tags, newest first; the next page's cursor."""
    query = select(NfcTag).where(col(NfcTag.brand_id) == brand_id)
    if cursor:
        at, ident = read_timed_cursor(cursor)
        after = tuple_(literal(at, DateTime(timezone=True)), literal(ident, String()))
        query = query.where(tuple_(col(NfcTag.created_at), col(NfcTag.id)) < after)
    rows = list(s.exec(query.order_by(col(NfcTag.created_at).desc(), col(NfcTag.id).desc()).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return rows, timed_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None


def page_of_deliveries(
    s: Session, sub: Subscription, cursor: str | None = None, *, limit: int = 20
) -> tuple[list[DeliveryOut], str | None]:
    """The webhook's deliveries, newest first, through the service's own view (attempts included);
    the next page's cursor. `sub` is one the caller owns (`hooks.owned`).

    By creation time, not by id alone: with `ORDER BY id`, PostgreSQL's planner walks the primary key
    backwards and filters by webhook, which reads the whole table for a webhook whose deliveries are
    old (measured: 4 s at 2.2 million deliveries, even beside an index on (subscription_id, id));
    no primary key gives this order, so an index on (subscription_id, created_at, id) serves it."""
    query = select(Delivery).where(col(Delivery.subscription_id) == sub.id)
    if cursor:
        at, ident = read_timed_cursor(cursor)
        if not ident.isdigit() or len(ident) > 18:  # a BIGINT id
            raise InvalidInput(REFUSED)
        after = tuple_(literal(at, DateTime(timezone=True)), literal(int(ident), BigInteger()))
        query = query.where(tuple_(col(Delivery.created_at), col(Delivery.id)) < after)
    order = col(Delivery.created_at).desc(), col(Delivery.id).desc()
    rows = list(s.exec(query.order_by(*order).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if more and rows else None
    return hooks.delivery_views(s, rows), timed_cursor(last.created_at, str(last.id)) if last else None
