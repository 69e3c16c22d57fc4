"""The per-process copy of open cautions the page and `/v1/verify` read (SQLite and PostgreSQL): a warm
lookup makes no query; a caution raised or cleared by another process (a row written without telling
this one) shows within the board's TTL and not later; this process's own invalidation shows at the
next lookup; the brand's commercial rules never make a caution."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import select

from registry.alerts.caution import CAUTION_TTL, CautionBoard, board_for
from registry.alerts.models import Alert
from registry.db.engine import session_scope
from tests.alerts.conftest import A_COLLECTION, B_COLLECTION, TOKEN

TTL = 0.5


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def raise_alert(
    engine: Engine,
    rule: str,
    collection: str = A_COLLECTION,
    brand: str = "brand-a",
    token: int = TOKEN,
    stamped: datetime | None = None,
) -> int:
    """An open alert written as another process's alert worker would (this process's board not told);
    `stamped`: its `updated_at`, if not now."""
    facts = {"countries": ["FR", "JP", "US"], "hours": 2} if rule == "anomaly" else {}
    with session_scope(engine) as s:
        alert = Alert(
            brand_id=brand,
            rule=rule,
            subject=f"{collection}:{token}",
            collection=collection,
            token_id=token,
            facts=json.dumps(facts),
            updated_at=stamped or datetime.now(UTC),
        )
        s.add(alert)
        s.flush()
        assert alert.id is not None
        return alert.id


def resolve_elsewhere(engine: Engine, alert_id: int) -> None:
    """As another process's resolve route does (`registry.alerts.actions.resolve`)."""
    with session_scope(engine) as s:
        alert = s.exec(select(Alert).where(Alert.id == alert_id)).one()
        alert.state, alert.resolved_at, alert.updated_at = "resolved", datetime.now(UTC), datetime.now(UTC)


def test_a_warm_lookup_makes_no_query_and_reads_any_address_case(db: Engine) -> None:
    raise_alert(db, "anomaly")
    board = CautionBoard(db, ttl=60)
    with counting(db) as statements:
        first = board.get(A_COLLECTION.upper().replace("0X", "0x"), TOKEN)
        assert len(statements) == 1  # one read of every open public caution
        for _ in range(10_000):
            assert board.get(A_COLLECTION, TOKEN) is first
            assert board.peek(B_COLLECTION, TOKEN) is None
        assert len(statements) == 1
    assert first is not None and first.rule == "anomaly"
    assert first.text("en") == "This label was scanned in 3 countries within 2 hours."
    assert first.text("zh-CN") == "该标签在 2 小时内于 3 个国家被扫描。"
    body = json.loads(first.encoded)
    assert body["rule"] == "anomaly" and body["since"].endswith(("+00:00", "Z"))


def test_another_process_raising_or_clearing_shows_within_the_ttl(db: Engine) -> None:
    board = CautionBoard(db, ttl=TTL)
    assert board.get(A_COLLECTION, TOKEN) is None
    read_at = time.monotonic()
    alert_id = raise_alert(db, "nfc-counter")
    assert board.get(A_COLLECTION, TOKEN) is None  # the copy is still fresh: not yet
    while board.get(A_COLLECTION, TOKEN) is None:
        assert time.monotonic() - read_at < TTL + 0.5, "the caution did not show within the TTL"
        time.sleep(0.02)
    assert time.monotonic() - read_at >= TTL * 0.9  # it showed because the copy aged, not by chance
    read_at = time.monotonic()
    resolve_elsewhere(db, alert_id)
    while board.get(A_COLLECTION, TOKEN) is not None:
        assert time.monotonic() - read_at < TTL + 0.5, "the cleared caution stayed past the TTL"
        time.sleep(0.02)


def test_this_process_invalidating_shows_at_the_next_lookup(db: Engine) -> None:
    board = board_for(db)
    assert board is board_for(db) and board.ttl == CAUTION_TTL  # one board per database, shared
    assert board.get(A_COLLECTION, TOKEN) is None
    alert_id = raise_alert(db, "copied-label")
    board.invalidate()  # what the worker does after its commit
    assert board.get(A_COLLECTION, TOKEN) is not None
    resolve_elsewhere(db, alert_id)
    board.invalidate()  # what the resolve route does after its commit
    assert board.get(A_COLLECTION, TOKEN) is None


def test_a_read_overtaken_by_an_invalidation_is_not_taken_as_fresh(db: Engine) -> None:
    board = CautionBoard(db, ttl=60)
    reading, release = threading.Event(), threading.Event()

    def slow(*_args: Any) -> None:
        reading.set()
        release.wait(5)

    event.listen(db, "before_cursor_execute", slow)
    reader = threading.Thread(target=board.refresh)
    reader.start()
    assert reading.wait(5)
    board.invalidate()  # an alert committed while the read was under way: it may have missed it
    release.set()
    reader.join(5)
    event.remove(db, "before_cursor_execute", slow)
    assert not board.fresh()  # so the next lookup reads again


def test_commercial_rules_and_other_brands_make_no_caution(db: Engine) -> None:
    for rule in ("off-market", "after-sell-by", "exceptional-country", "tap-before-sale", "inactive"):
        raise_alert(db, rule)
    raise_alert(db, "stolen", B_COLLECTION, "brand-b")
    board = CautionBoard(db, ttl=60)
    assert board.get(A_COLLECTION, TOKEN) is None
    caution = board.get(B_COLLECTION, TOKEN)
    assert caution is not None and caution.rule == "stolen"
    raise_alert(db, "session-count")
    raise_alert(db, "blacklisted")
    board.invalidate()
    caution = board.get(A_COLLECTION, TOKEN)
    assert caution is not None and caution.rule == "blacklisted"  # the most telling of the open ones


def test_after_the_first_read_only_the_changed_alerts_are_read(db: Engine) -> None:
    """Many open cautions on the board: a refresh reads what changed since the last one, not them all; a
    resolved alert leaves the board, a new one joins it, another process's writes included."""
    for token in range(20_000, 20_050):
        raise_alert(db, "session-count", token=token)
    board = CautionBoard(db, ttl=60)
    assert board.get(A_COLLECTION, 20_000) is not None
    assert board.reads == {"whole": 1, "changes": 0, "rows": 50}
    board.invalidate()
    assert board.get(A_COLLECTION, 20_001) is not None  # read again: only the last two minutes' changes
    assert board.reads["whole"] == 1 and board.reads["changes"] == 1
    old = datetime.now(UTC) - timedelta(hours=1)
    with session_scope(db) as s:  # an hour old: out of the window the next reads reach
        for alert in s.exec(select(Alert)):
            alert.updated_at = old
    board.invalidate()
    board.refresh()
    rows = board.reads["rows"]
    resolved = raise_alert(db, "nfc-counter", token=30_000)
    raise_alert(db, "anomaly", token=30_001)
    resolve_elsewhere(db, resolved)
    board.invalidate()
    assert board.get(A_COLLECTION, 30_001) is not None and board.get(A_COLLECTION, 30_000) is None
    assert board.reads["rows"] - rows == 2  # the two changed alerts, not the 50 open ones
    assert board.get(A_COLLECTION, 20_049) is not None  # the unchanged ones stay
    with session_scope(db) as s:
        first = s.exec(select(Alert).where(Alert.token_id == 20_000)).one()
        assert first.id is not None
    resolve_elsewhere(db, first.id)
    board.invalidate()
    assert board.get(A_COLLECTION, 20_000) is None  # resolved: gone at the next read
    assert board.reads["whole"] == 1


def test_a_write_stamped_before_the_last_read_but_committed_after_it_still_shows(db: Engine) -> None:
    """A batch's alerts are stamped when written and committed a moment later: a stamp older than the
    board's last read is read again within the overlap; one older still waits for the whole read."""
    board = CautionBoard(db, ttl=60, overlap=60, whole_every=3600)
    assert board.get(A_COLLECTION, TOKEN) is None
    raise_alert(db, "scan-count", stamped=datetime.now(UTC) - timedelta(seconds=30))
    board.invalidate()
    caution = board.get(A_COLLECTION, TOKEN)
    assert caution is not None and caution.rule == "scan-count"
    late = raise_alert(db, "copied-label", B_COLLECTION, "brand-b", stamped=datetime.now(UTC) - timedelta(hours=1))
    board.invalidate()
    assert board.get(B_COLLECTION, TOKEN) is None  # beyond the overlap: not in a change read ...
    board.whole_every = 0
    board.invalidate()
    caution = board.get(B_COLLECTION, TOKEN)  # ... but the whole read (every `whole_every` s) has it
    assert caution is not None and caution.rule == "copied-label"
    assert late and board.reads["whole"] == 2
