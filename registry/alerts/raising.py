"""Raising an alert: once per open (twin, rule), with the scans that showed it copied as evidence
(at most `MAX_LINKED` per alert) and the twin's chain state, and `alert.raised` in the webhook outbox in
the same transaction. Another process raising the same alert at the same moment is absorbed by the
open-alert index."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from registry.alerts import rules
from registry.alerts.actions import event
from registry.alerts.models import Alert, AlertScan
from registry.alerts.state import aware
from registry.scans.models import Scan
from registry.webhooks.outbox import enqueue_brand_event


@dataclass(frozen=True)
class Candidate:
    brand_id: str
    subject: str
    collection: str | None
    token_id: int | None
    finding: rules.Finding
    scans: dict[int, Any]  # `Scan`s or rows of the table


COLUMNS = tuple(Scan.__table__.columns.keys())  # type: ignore[attr-defined]


def _scan_record(scan: Any) -> dict[str, Any]:
    """The scan as an alert keeps it, free-form (the scan log's row): every recorded field, times in
    ISO 8601, the evidence parsed."""
    row = {name: getattr(scan, name) for name in COLUMNS}
    row["at"] = aware(row["at"]).isoformat()
    if isinstance(row["evidence"], str):
        with contextlib.suppress(ValueError):  # else kept as recorded
            row["evidence"] = json.loads(row["evidence"])
    return row


def store(session: Session, c: Candidate, chain: dict[tuple[str, int], dict[str, Any]], now: datetime) -> Alert | None:
    """Stores `c` once per open (twin, rule): a new alert with its scans linked and `alert.raised`
    enqueued, or more scans linked to the one already open (None then, and when the chain unsays it)."""
    existing = open_alert(session, c)
    # `updated_at` is the wall clock of the write (not the batch's `now`): the caution boards read
    # the alerts changed since their last read by it.
    if existing is not None:
        _link(session, existing, c.scans.values())
        existing.updated_at = datetime.now(UTC)
        return None
    facts = chain.get((c.collection, c.token_id)) if c.collection and c.token_id is not None else None
    if facts is not None and not _confirmed(c.finding.rule, facts):
        return None  # the index was behind the chain (recovered, un-burned...): nothing to say
    values = {
        "brand_id": c.brand_id,
        "rule": c.finding.rule,
        "subject": c.subject,
        "collection": c.collection,
        "token_id": c.token_id,
        "state": "open",
        "facts": json.dumps(c.finding.facts, sort_keys=True, default=str),
        "chain": json.dumps(facts) if facts is not None else None,
        "raised_at": now,
        "updated_at": datetime.now(UTC),
    }
    # Another process may have raised the same alert a moment ago: the open-alert index keeps theirs
    # (one statement, no savepoint: pysqlite's savepoints would commit the transaction early).
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(Alert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["brand_id", "subject", "rule"], index_where=text("state = 'open'"))
        .returning(col(Alert.id))
    )
    alert_id = session.execute(stmt).scalar()
    if alert_id is None:
        return None
    alert = session.get(Alert, alert_id)
    assert alert is not None
    _link(session, alert, c.scans.values())
    enqueue_brand_event(session, c.brand_id, event(alert, "alert.raised"))
    return alert


def open_alert(session: Session, c: Candidate) -> Alert | None:
    return session.exec(
        select(Alert).where(
            Alert.brand_id == c.brand_id,
            Alert.subject == c.subject,
            Alert.rule == c.finding.rule,
            Alert.state == "open",
        )
    ).first()


def _confirmed(rule: str, facts: dict[str, Any]) -> bool:
    if rule == "stolen":
        return bool(facts["status"] == "stolen")
    if rule == "burned-scanned":
        return bool(facts["burned"])
    if rule == "blacklisted":
        return bool(facts["compromised_at_mint"])
    return True


MAX_LINKED = 200  # scans kept per alert: enough to show the pattern, bounded for an alert left open for months


def _link(session: Session, alert: Alert, scans: Any) -> None:
    assert alert.id is not None
    have = set(session.exec(select(AlertScan.scan_id).where(AlertScan.alert_id == alert.id)).all())
    room = MAX_LINKED - len(have)
    for scan in scans:
        if room <= 0:
            break
        if scan.id in have:
            continue
        record = json.dumps(_scan_record(scan))
        session.add(AlertScan(alert_id=alert.id, scan_id=scan.id, at=aware(scan.at), scan=record))
        room -= 1
