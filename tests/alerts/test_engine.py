"""The engine on a real database (SQLite and PostgreSQL): scans recorded as the scan log would, then
handed over as a batch. Dedupe, resolution, brand isolation, webhooks in the outbox, the caution."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from registry.alerts import actions, service
from registry.alerts.caution import caution_for
from registry.alerts.models import Alert, AlertCountry, AlertScan
from registry.alerts.policies import set_policy
from registry.alerts.service import AlertEngine
from registry.db.engine import session_scope
from registry.errors import Conflict, NotFound
from registry.nfc.models import NfcTag
from registry.scans.models import Scan
from registry.twins.models import Twin
from registry.webhooks.models import Delivery, Subscription
from tests.alerts.conftest import A_COLLECTION, B_COLLECTION, NOW, TOKEN, record


def crowd(i: int, minutes_ago: float = 1, **kw: object) -> dict[str, object]:
    return {
        "channel": "page",
        "arrival": "qr",
        "session": f"s{i}",
        "network": f"198.51.{i}.0/24",
        "minutes_ago": minutes_ago,
    } | kw


def subscribe(engine: Engine, brand_id: str, types: list[str]) -> str:
    with session_scope(engine) as s:
        sub = Subscription(
            id=f"sub-{brand_id}",
            brand_id=brand_id,
            url="https://example.com/h",
            event_types=json.dumps(types),
            secret="x",
        )
        s.add(sub)
    return sub.id


def test_one_open_alert_per_twin_and_rule_with_the_new_scans_added(db: Engine) -> None:
    engine = AlertEngine()
    subscribe(db, "brand-a", ["alert.raised", "alert.resolved"])
    subscribe(db, "brand-b", ["alert.raised"])
    with session_scope(db) as s:
        set_policy(s, "brand-a", "", {"session_count": 3})
        first = record(s, A_COLLECTION, "brand-a", [crowd(1, 30), crowd(2, 20)])
        assert engine.process(s, first, now=NOW) == []  # two crowds: under the threshold
        third = record(s, A_COLLECTION, "brand-a", [crowd(3, 10)])
        raised = engine.process(s, third, now=NOW)
        assert [a.rule for a in raised] == ["session-count"]
    with session_scope(db) as s:
        more = record(s, A_COLLECTION, "brand-a", [crowd(4, 5), crowd(5, 1)])
        assert engine.process(s, more, now=NOW) == []  # the open alert gains the scans; none is raised again
    with session_scope(db) as s:
        alerts = s.exec(select(Alert)).all()
        assert len(alerts) == 1 and alerts[0].brand_id == "brand-a"
        linked = s.exec(select(AlertScan).where(AlertScan.alert_id == alerts[0].id)).all()
        assert len(linked) == 5
        deliveries = s.exec(select(Delivery)).all()
        # brand B's subscription never hears of brand A's alert
        assert [(d.subscription_id, d.event_type) for d in deliveries] == [("sub-brand-a", "alert.raised")]
        payload = json.loads(deliveries[0].payload)
        assert payload["data"]["rule"] == "session-count" and payload["token_id"] == TOKEN


def test_the_database_refuses_a_second_open_alert_but_keeps_resolved_ones(db: Engine) -> None:
    def alert(state: str) -> Alert:
        return Alert(brand_id="brand-a", rule="stolen", subject=f"{A_COLLECTION}:{TOKEN}", state=state, facts="{}")

    with session_scope(db) as s:
        s.add_all([alert("resolved"), alert("resolved"), alert("open")])
    with pytest.raises(IntegrityError), session_scope(db) as s:
        s.add(alert("open"))


def test_resolving_clears_the_caution_and_only_later_scans_count_again(db: Engine) -> None:
    engine = AlertEngine()
    subscribe(db, "brand-a", ["alert.resolved"])
    with session_scope(db) as s:
        set_policy(s, "brand-a", "", {"session_count": 3})
        raised = engine.process(s, record(s, A_COLLECTION, "brand-a", [crowd(i, 60 - i) for i in range(1, 4)]), now=NOW)
        assert len(raised) == 1
        caution = caution_for(s, A_COLLECTION, TOKEN)
        assert caution is not None and caution.rule == "session-count"
        assert (
            "from 3 different places" in caution.en
            and "3 个不同地点" in caution.zh
            and "fake" not in caution.en.lower()
        )
        actions.resolve(s, raised[0], "a shop demo")
        with pytest.raises(Conflict):
            actions.resolve(s, raised[0], "again")
    with session_scope(db) as s:
        assert caution_for(s, A_COLLECTION, TOKEN) is None
        # one more crowd: with the resolved three it would be four, but only one came after
        assert engine.process(s, record(s, A_COLLECTION, "brand-a", [crowd(9, 0)]), now=NOW) == []
        delivered = [d.event_type for d in s.exec(select(Delivery)).all()]
        assert delivered == ["alert.resolved"]


def test_brands_see_only_their_own_alerts(db: Engine) -> None:
    engine = AlertEngine()
    with session_scope(db) as s:
        s.get(Twin, (B_COLLECTION, TOKEN)).status = 2  # type: ignore[union-attr]
        raised = engine.process(s, record(s, B_COLLECTION, "brand-b", [crowd(1)]), now=NOW)
        assert [a.rule for a in raised] == ["stolen"]
        assert raised[0].id is not None
        assert actions.list_alerts(s, "brand-a") == ([], None)
        with pytest.raises(NotFound):
            actions.own_alert(s, "brand-a", raised[0].id)
        rows, _ = actions.list_alerts(s, "brand-b", rule="stolen", state="open")
        assert [a.id for a in rows] == [raised[0].id]
        assert caution_for(s, B_COLLECTION, TOKEN) is not None
        assert caution_for(s, A_COLLECTION, TOKEN) is None


def test_listing_pages_with_a_cursor(db: Engine) -> None:
    with session_scope(db) as s:
        for token in range(1, 6):
            s.add(Alert(brand_id="brand-a", rule="stolen", subject=f"x:{token}", token_id=token, facts="{}"))
    with session_scope(db) as s:
        seen, cursor = [], None
        while True:
            rows, cursor = actions.list_alerts(s, "brand-a", cursor=cursor, limit=2)
            seen += [a.token_id for a in rows]
            if cursor is None:
                break
        assert seen == [5, 4, 3, 2, 1]


def test_a_cloned_tag_is_flagged_at_its_second_appearance_with_a_public_caution(db: Engine) -> None:
    engine = AlertEngine()
    tap = {"channel": "tap", "arrival": "nfc", "tag_kind": "halo", "tag_id": "0xChip", "valid": True}
    with session_scope(db) as s:
        genuine = record(s, A_COLLECTION, "brand-a", [crowd(1, 60, counter=7, **tap)])
        assert engine.process(s, genuine, now=NOW) == []
        clone = record(s, A_COLLECTION, "brand-a", [crowd(2, 1, counter=7, **tap)])
        raised = engine.process(s, clone, now=NOW)
        assert [a.rule for a in raised] == ["nfc-counter"]
        assert json.loads(raised[0].facts) == {"counters": [7], "kind": "duplicate"}
        caution = caution_for(s, A_COLLECTION, TOKEN)
        assert caution is not None and caution.rule == "nfc-counter"


def test_commercial_rules_stay_off_the_public_page(db: Engine) -> None:
    engine = AlertEngine()
    with session_scope(db) as s:
        set_policy(s, "brand-a", A_COLLECTION, {"markets": ["FR"], "off_market_crowds": 1})
        raised = engine.process(s, record(s, A_COLLECTION, "brand-a", [crowd(1, country="US")]), now=NOW)
        assert [a.rule for a in raised] == ["off-market"]
        assert caution_for(s, A_COLLECTION, TOKEN) is None
        # the policy was the collection's: brand B's twin in the US raises nothing
        assert engine.process(s, record(s, B_COLLECTION, "brand-b", [crowd(2, country="US")]), now=NOW) == []


def test_copied_label_of_an_nfc_bound_twin(db: Engine) -> None:
    engine = AlertEngine()
    with session_scope(db) as s:
        s.add(
            NfcTag(
                id="t1",
                kind="ntag424",
                identity="04AABBCCDDEEFF",
                brand_id="brand-a",
                collection=A_COLLECTION,
                token_id=TOKEN,
            )
        )
        set_policy(s, "brand-a", "", {"copied_label_crowds": 3})
        raised = engine.process(
            s, record(s, A_COLLECTION, "brand-a", [crowd(i, 100 - i) for i in range(1, 4)]), now=NOW
        )
        assert [a.rule for a in raised] == ["copied-label"]


def test_exceptional_country_learns_the_collections_countries(db: Engine) -> None:
    engine = AlertEngine()
    with session_scope(db) as s:
        set_policy(s, "brand-a", "", {"exceptional_min_history": 3})
        history = record(s, A_COLLECTION, "brand-a", [crowd(i, 100 - i, country="FR") for i in range(1, 4)])
        weeks_ago = NOW - timedelta(days=31)
        assert engine.process(s, history, now=weeks_ago) == []  # the first three are the history itself
        assert s.get(AlertCountry, (A_COLLECTION, "FR")).scans == 3  # type: ignore[union-attr]
        again = engine.process(s, record(s, A_COLLECTION, "brand-a", [crowd(8, country="FR")]), now=NOW)
        assert again == []
        # one buyer in a new country is one person: not yet
        assert engine.process(s, record(s, A_COLLECTION, "brand-a", [crowd(9, 5, country="BR")]), now=NOW) == []
        # a second, in a later batch: the country is still new to the collection (known since this window)
        novel = engine.process(s, record(s, A_COLLECTION, "brand-a", [crowd(10, country="BR")]), now=NOW)
        assert [a.rule for a in novel] == ["exceptional-country"]
        assert json.loads(novel[0].facts)["countries"] == ["BR"]


def test_a_young_collection_has_no_history_to_call_a_country_exceptional(db: Engine) -> None:
    """The tiny denominator: every country is new to a collection only days old, so its located scans
    count only in countries known before the window."""
    engine = AlertEngine()
    with session_scope(db) as s:
        set_policy(s, "brand-a", "", {"exceptional_min_history": 3})
        recent = record(s, A_COLLECTION, "brand-a", [crowd(i, 100 - i, country="FR") for i in range(1, 6)])
        assert engine.process(s, recent, now=NOW - timedelta(days=2)) == []
        both = [crowd(9, 5, country="BR"), crowd(10, country="BR")]
        assert engine.process(s, record(s, A_COLLECTION, "brand-a", both), now=NOW) == []


def test_lookups_of_unknown_serials_raise_one_twinless_alert(db: Engine) -> None:
    engine = AlertEngine()
    lookup = {"channel": "resolver"}
    with session_scope(db) as s:
        set_policy(s, "brand-a", "", {"unknown_serial_lookups": 3, "unknown_serial_crowds": 2})
        rows = [crowd(i, 10 - i, **lookup) for i in range(1, 4)]
        scans = record(s, None, "brand-a", rows)
        raised = engine.process(s, scans, now=NOW)
        assert [(a.rule, a.token_id, a.subject) for a in raised] == [("counterfeit", None, "lookup:brand-a")]
        assert engine.process(s, record(s, None, "brand-a", [crowd(7, 0, **lookup)]), now=NOW) == []  # deduped
        assert len(s.exec(select(Scan).where(Scan.token_id == None)).all()) == 4  # noqa: E711


def test_a_scan_of_another_operators_twin_is_ignored(db: Engine) -> None:
    engine = AlertEngine()
    with session_scope(db) as s:
        scans = record(s, "0x" + "cc" * 20, None, [crowd(1)])
        assert engine.process(s, scans, now=NOW) == []


def test_the_worker_evaluates_submitted_batches_off_the_writers_thread(db: Engine) -> None:
    import threading

    from registry.alerts.worker import AlertWorker

    worker = AlertWorker(db, AlertEngine(), size=3)
    stop = threading.Event()
    with session_scope(db) as s:
        s.get(Twin, (A_COLLECTION, TOKEN)).status = 2  # type: ignore[union-attr]
        rows = record(s, A_COLLECTION, "brand-a", [crowd(1), crowd(2)])
    worker.submit(rows)
    worker.submit(rows)  # the queue holds 3: one scan dropped, counted
    assert worker.stats.dropped == 1
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        assert worker.flush()
    finally:
        stop.set()
        thread.join()
    assert worker.stats.evaluated == 3 and worker.stats.raised == 1
    with session_scope(db) as s:
        assert [a.rule for a in s.exec(select(Alert)).all()] == ["stolen"]


def test_crawlers_are_nobody(db: Engine) -> None:
    engine = AlertEngine()
    with session_scope(db) as s:
        set_policy(s, "brand-a", "", {"session_count": 3})
        s.get(Twin, (A_COLLECTION, TOKEN)).status = 2  # type: ignore[union-attr]
        bots = record(s, A_COLLECTION, "brand-a", [crowd(i, 10 - i, agent="bot", country="US") for i in range(1, 6)])
        assert engine.process(s, bots, now=NOW) == []  # not even the stolen twin's rule
        assert s.get(AlertCountry, (A_COLLECTION, "US")) is None
        people = record(s, A_COLLECTION, "brand-a", [crowd(7, 1, agent="ios")])
        assert sorted(a.rule for a in engine.process(s, people, now=NOW)) == ["stolen"]  # 1 crowd, bots not counted


def test_two_processes_raising_the_same_alert_at_once_store_one(db: Engine) -> None:
    """Both read "no open alert", then both write: the open-alert index keeps the first, the second
    stores nothing and sends nothing (no error)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    together = threading.Barrier(2)

    class Racing(AlertEngine):
        def _chain_facts(self, session, candidates):  # type: ignore[no-untyped-def]
            together.wait(timeout=10)  # both have read, neither has written
            return super()._chain_facts(session, candidates)

    subscribe(db, "brand-a", ["alert.raised"])
    with session_scope(db) as s:
        s.get(Twin, (A_COLLECTION, TOKEN)).status = 2  # type: ignore[union-attr]
        rows = record(s, A_COLLECTION, "brand-a", [crowd(1)])

    def run(_: int) -> int:
        with session_scope(db) as s:
            return len(Racing().process(s, rows, now=NOW))

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(run, range(2))) == [0, 1]
    with session_scope(db) as s:
        assert len(s.exec(select(Alert)).all()) == 1
        assert len(s.exec(select(Delivery)).all()) == 1


def test_a_buyers_erasure_blanks_their_session_in_alert_copies(db: Engine) -> None:
    engine = AlertEngine()
    with session_scope(db) as s:
        s.get(Twin, (A_COLLECTION, TOKEN)).status = 2  # type: ignore[union-attr]
        raised = engine.process(s, record(s, A_COLLECTION, "brand-a", [crowd(1), crowd(2)]), now=NOW)
        assert actions.forget_session(s, "s1") == 1
    with session_scope(db) as s:
        copies = {c["id"]: c for c in actions.alert_scans(s, raised[0])}
        assert sorted(c["session"] for c in copies.values() if c["session"]) == ["s2"]
        assert all(c["network"] for c in copies.values())  # the rest of the proof stays


def test_a_hammered_twin_costs_a_pass_its_newest_history_only(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """One verify URL hammered (a benchmark, an attack): each pass reads the twin's newest HISTORY_LIMIT
    scans up to its own batch, not the whole history, and not the scans committed after the batch
    (the writer runs ahead of the rules under load; those come in their own batch)."""
    monkeypatch.setattr(service, "HISTORY_LIMIT", 100)
    engine = AlertEngine()  # a fresh engine: it has seen none of the history (a restart)
    with session_scope(db) as s:
        record(s, A_COLLECTION, "brand-a", [crowd(1, 30 - i / 100) for i in range(300)])
        batch = record(s, A_COLLECTION, "brand-a", [crowd(2, 0.5), crowd(3, 0.4), crowd(4, 0.3)])
        later = record(s, A_COLLECTION, "brand-a", [crowd(5, 0.2) for _ in range(40)])
        engine.process(s, batch, now=NOW)
    read = set(engine._facts)
    assert len(read) == 100  # the newest 100 up to the batch, the batch's own among them
    assert {b.id for b in batch} <= read
    assert read.isdisjoint(scan.id for scan in later)
