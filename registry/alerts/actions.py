"""What a brand does with its alerts: list (newest first, with a cursor), read, resolve with a note
(which clears the twin's caution and sends `alert.resolved`), export as one self-contained document
that `python -m registry.alerts.recheck` re-checks without this service."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.alerts.caution import sentences
from registry.alerts.models import Alert, AlertScan
from registry.alerts.schemas import AlertExport, AlertOut, Summary
from registry.errors import Conflict, InvalidInput, NotFound
from registry.webhooks.outbox import enqueue_brand_event

EXPORT_FORMAT = "twinmark-alert/1"


def alert_view(alert: Alert) -> AlertOut:
    en, zh = sentences(alert.rule, json.loads(alert.facts))
    assert alert.id is not None  # a stored alert
    return AlertOut(
        id=alert.id,
        rule=alert.rule,
        state="open" if alert.state == "open" else "resolved",
        brand=alert.brand_id,
        contract=alert.collection,
        token_id=alert.token_id,
        subject=alert.subject,
        facts=json.loads(alert.facts),
        summary=Summary(en=en, zh=zh),
        chain=json.loads(alert.chain) if alert.chain else None,
        raised_at=alert.raised_at,
        updated_at=alert.updated_at,
        resolved_at=alert.resolved_at,
        note=alert.note,
    )


def event(alert: Alert, kind: str) -> dict[str, Any]:
    """The webhook event of an alert (`alert.raised`, `alert.resolved`). A dict on purpose, as every
    outbox payload (`events.public.public_event`) is: it is encoded once and signed as those bytes.
    One stable id per alert and kind, so a receiver drops redeliveries."""
    return {
        "id": f"evt_alert_{alert.id}_{kind.split('.')[1]}",
        "type": kind,
        "contract": alert.collection,
        "token_id": alert.token_id,
        "data": alert_view(alert).model_dump(mode="json"),
    }


def own_alert(session: Session, brand_id: str, alert_id: int) -> Alert:
    """The alert, if it is this brand's; another brand's does not exist for the caller."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.brand_id != brand_id:
        raise NotFound(f"no alert {alert_id}")
    return alert


def list_alerts(
    session: Session,
    brand_id: str,
    *,
    state: str | None = None,
    rule: str | None = None,
    collection: str | None = None,
    token_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Alert], str | None]:
    """The brand's alerts, newest first; the cursor (opaque to callers) is the last id given."""
    query = select(Alert).where(Alert.brand_id == brand_id)
    if state is not None:
        query = query.where(Alert.state == state)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    if collection is not None:
        query = query.where(Alert.collection == collection)
    if token_id is not None:
        query = query.where(Alert.token_id == token_id)
    if cursor is not None:
        try:
            before = int(cursor, 36)
        except ValueError:
            raise InvalidInput("cursor is not one this service gave") from None
        query = query.where(col(Alert.id) < before)
    rows = list(session.exec(query.order_by(col(Alert.id).desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].id if more and rows else None
    return rows, None if last is None else _base36(last)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def resolve(session: Session, alert: Alert, note: str | None) -> Alert:
    """Closes the alert (clears the twin's caution) and announces it; resolving twice is a conflict."""
    if alert.state != "open":
        raise Conflict(f"alert {alert.id} is already {alert.state}")
    now = datetime.now(UTC)
    alert.state, alert.resolved_at, alert.updated_at, alert.note = "resolved", now, now, note
    session.flush()
    enqueue_brand_event(session, alert.brand_id, event(alert, "alert.resolved"))
    return alert


def alert_scans(session: Session, alert: Alert) -> list[dict[str, Any]]:
    """The alert's copies of its scans, free-form: each is the scan row as the scan log recorded it."""
    rows = session.exec(
        select(AlertScan).where(AlertScan.alert_id == alert.id).order_by(col(AlertScan.at), col(AlertScan.scan_id))
    ).all()
    return [json.loads(r.scan) for r in rows]


def export(session: Session, alert: Alert) -> AlertExport:
    """The alert as one document: the rule and its figures, every triggering scan as recorded (tap
    cryptograms and signatures, counters, coarse places), and the twin's chain state at a block. A
    third party re-checks the HaLo signatures with nothing, SUN MACs with the brand's key, and the
    chain facts with any RPC endpoint of the chain."""
    return AlertExport(
        format=EXPORT_FORMAT,
        alert=alert_view(alert),
        scans=alert_scans(session, alert),
        how_to_check=(
            "python -m registry.alerts.recheck alert.json [--chain-rpc URL] [--nfc-key HEX] [--tag-key HEX]: HaLo"
            " signatures are re-checked with the chip address (tag_id) alone; NTAG 424 SUN taps need the brand's"
            " AES-128 master key, or one tag's file key for its MACs; the chain facts need an RPC endpoint of chain"
            " `chain.chain_id`, reading twinReport at `chain.block_number` and that block's hash"
        ),
    )


def forget_session(session: Session, session_hash: str, brand_id: str | None = None) -> int:
    """A buyer's erasure request reaches the alerts' copies of their scans too (of one brand's alerts,
    or all when `brand_id` is None): the session is blanked (the tap evidence, the coarse place and the
    time stay, as the alert's proof); how many copies."""
    if not session_hash:
        return 0
    needle = json.dumps({"session": session_hash})[1:-1]  # '"session": "<hash>"' as the copies store it
    query = select(AlertScan).where(col(AlertScan.scan).contains(needle, autoescape=True))
    if brand_id is not None:
        query = query.join(Alert, col(Alert.id) == col(AlertScan.alert_id)).where(col(Alert.brand_id) == brand_id)
    rows = session.exec(query).all()
    forgotten = 0
    for row in rows:
        scan = json.loads(row.scan)
        if scan.get("session") == session_hash:
            row.scan = json.dumps(scan | {"session": None})
            forgotten += 1
    return forgotten


def raised_between(
    session: Session, brand_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, str | None, int | None]]:
    """When each of the brand's alerts raised in [start, end) was raised, and its twin: what the scan
    log's numbers count (`registry.scans.service.aggregates`)."""
    query = select(col(Alert.raised_at), col(Alert.collection), col(Alert.token_id)).where(
        col(Alert.brand_id) == brand_id, col(Alert.raised_at) >= start, col(Alert.raised_at) < end
    )
    # SQLite hands back naive datetimes (stored as UTC)
    return [(at if at.tzinfo else at.replace(tzinfo=UTC), c, t) for at, c, t in session.exec(query)]
