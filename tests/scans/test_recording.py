"""The scan log over real HTTP (uvicorn, SQLite and PostgreSQL): what each door records (a QR scan's
resolver hit and page view, typed links, NFC taps on the page and through the API, verifications),
the evidence a tap leaves and its offline re-check, truncated IPv4 and IPv6 networks, unknown
locations, and the faults recording must never pass on to an answer: a full queue, a database that
refuses the batch."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.db.engine import session_scope
from registry.nfc import diversify, halo, sun
from registry.pages import tickets
from registry.scans import privacy
from registry.scans.centroids import CENTROIDS
from registry.scans.models import Scan
from registry.twins.models import Twin
from registry.twins.service import twin_digital_link
from tests.api.conftest import gtin
from tests.scans.conftest import MASTER, Site


def label_url(site: Site, i: int) -> str:
    """What the twin's printed QR code encodes: its GS1 Digital Link."""
    with session_scope(site.stack.runtime.engine) as s:
        twin = s.get(Twin, (site.collection, site.tokens[i]))
        assert twin is not None
        return twin_digital_link(twin, site.url)


def page(site: Site, i: int) -> str:
    return f"/t/{site.collection}/{site.tokens[i]}"


def test_a_qr_scan_records_the_resolver_hit_and_a_qr_page_view_in_one_session(site: Site) -> None:
    last = site.last_id()
    with site.browser("8.8.8.77", **{"Accept-Language": "zh-CN,zh;q=0.9"}) as phone:
        r = phone.get(label_url(site, 0), follow_redirects=True)
        assert r.status_code == 200 and r.url.path == page(site, 0)
        cookie = phone.cookies.get(tickets.COOKIE)
        assert cookie and tickets.browser_id(cookie)  # the first-party browser id, set by the first hit
        assert r.history[0].status_code == 307
        again = phone.get(page(site, 0))  # a reload: the redirect's mark was used up
        assert again.status_code == 200
    resolver, view, reload = site.since(last)
    session = privacy.session(privacy.session_key(site.stack.runtime.server_key), cookie)
    assert (resolver.channel, resolver.arrival) == ("resolver", "qr")
    assert (view.channel, view.arrival, reload.arrival) == ("page", "qr", "link")
    for row in (resolver, view, reload):
        assert (row.brand_id, row.collection, row.token_id) == (
            site.stack.client.get("/v1/brands/me", headers=site.brand).json()["id"],
            site.collection,
            site.tokens[0],
        )
        assert row.session == session and row.session != cookie
        assert (row.network, row.country, row.agent) == ("8.8.8.0/24", "US", "ios")
        assert (row.latitude, row.longitude) == CENTROIDS["US"]
        assert row.block_number is not None and row.block_number > 0
    assert view.language == r.headers["content-language"] == "zh-CN"  # as the page answered


def test_typed_links_and_label_markers(site: Site) -> None:
    last = site.last_id()
    with site.browser("8.8.4.4") as phone:
        assert phone.get(page(site, 1)).status_code == 200
        assert phone.get(page(site, 1), params={"src": "qr"}).status_code == 200
        assert phone.get(page(site, 1), params={"src": "nfc"}).status_code == 200
    rows = site.since(last)
    assert [(r.channel, r.arrival) for r in rows] == [("page", "link"), ("page", "qr"), ("page", "nfc")]
    assert len({r.session for r in rows}) == 1 and rows[0].session is not None


def test_a_sun_tap_on_the_page_leaves_evidence_anyone_can_recheck(site: Site) -> None:
    assert site.tag is not None
    last = site.last_id()
    with site.browser("8.8.8.9") as phone:
        tapped = site.tag.tap()
        r = phone.get(page(site, 0), params=tapped, follow_redirects=True)
        assert r.status_code == 200 and "tap=" in str(r.url)
        replay = phone.get(page(site, 0), params=tapped, follow_redirects=True)
        assert replay.status_code == 200
        forged = dict(site.tag.tap(), cmac="00" * 8)
        assert phone.get(page(site, 0), params=forged, follow_redirects=True).status_code == 200
    rows = site.since(last)
    taps = [r for r in rows if r.channel == "tap"]
    views = [r for r in rows if r.channel == "page"]
    assert [r.arrival for r in views] == ["nfc"] * 3  # each tap's ticket page
    assert [(t.tag_kind, t.valid, t.counter, t.arrival) for t in taps] == [
        ("ntag424", True, site.tag.counter - 1, "nfc"),
        ("ntag424", True, site.tag.counter - 1, "nfc"),  # the replay: genuine, same counter (a clone's mark)
        ("ntag424", False, site.tag.counter, "nfc"),  # forged MAC: the counter the PICC data claims
    ]
    uid = site.tag.uid.hex().upper()
    assert taps[0].tag_id == uid and taps[2].tag_id is None
    # Offline re-check from the evidence alone, plus the one tag's file key the brand discloses.
    evidence = json.loads(taps[0].evidence or "")
    assert evidence["picc_data"] == tapped["picc_data"] and evidence["cmac"] == tapped["cmac"]
    assert evidence["tag_uid"] == uid and evidence["counter"] == taps[0].counter
    file_key = diversify.file_read_key(MASTER, bytes.fromhex(evidence["tag_uid"]))
    mac = sun.sdm_mac(file_key, bytes.fromhex(evidence["tag_uid"]), evidence["counter"], evidence["mac_input"].encode())
    assert mac.hex().upper() == evidence["cmac"].upper()
    picc = sun.decrypt_picc(diversify.meta_read_key(MASTER), bytes.fromhex(evidence["picc_data"]))
    assert (picc.uid.hex().upper(), picc.counter) == (uid, evidence["counter"])
    # The forged tap keeps what was received: its MAC does not check.
    bad = json.loads(taps[2].evidence or "")
    assert bad["cmac"] == "00" * 8 and bad["code"] == "forged"


def test_a_halo_tap_through_the_api_names_the_chip_from_its_signature(site: Site) -> None:
    assert site.chip is not None
    last = site.last_id()
    with site.browser("2001:4860:4860:1234:5678:9abc:def0:1234", Accept="application/json") as app:
        tapped = site.chip.tap()
        r = app.get(f"/v1/twins/{site.collection}/{site.tokens[1]}/tap", params=tapped)
        assert r.status_code == 200 and r.json()["code"] == "genuine-fresh"
        bad = app.get(f"/v1/twins/{site.collection}/{site.tokens[1]}/tap", params={"rnd": "zz", "rndsig": "00"})
        assert bad.status_code == 400
    good, malformed = site.since(last)
    assert (good.channel, good.tag_kind, good.valid, good.counter) == ("tap", "halo", True, site.chip.counter)
    assert good.arrival is None  # through the API, not a page
    assert good.network == "2001:4860:4860::/48" and good.country == "US"
    evidence = json.loads(good.evidence or "")
    digest = bytes.fromhex(evidence["digest"])
    assert digest == halo.rnd_digest(bytes.fromhex(evidence["challenge"]))
    assert good.tag_id is not None and good.tag_id.lower() == site.chip.address.lower()
    assert good.tag_id in halo.signers(digest, bytes.fromhex(evidence["signature"]))
    assert (malformed.valid, json.loads(malformed.evidence or "")["code"]) == (False, "malformed")


def test_verifications_and_unknown_locations(site: Site) -> None:
    last = site.last_id()
    with site.browser("203.0.113.9", Accept="application/json") as client:  # a documentation range: nowhere
        assert client.get(f"/v1/verify/{site.collection}/{site.tokens[2]}").status_code == 200
    with site.browser(None, Accept="application/json") as client:  # loopback itself, no proxy header
        assert client.get(f"/v1/verify/{site.collection}/{site.tokens[2]}").status_code == 200
        assert client.get(f"/v1/verify/{site.collection}/999999").status_code in (200, 404)
    first, second, unknown_twin = site.since(last)
    assert (first.channel, first.network, first.country, first.region, first.latitude) == (
        "verify",
        "203.0.113.0/24",
        None,
        None,
        None,
    )
    assert (second.network, second.country) == ("127.0.0.0/24", None)
    assert (unknown_twin.collection, unknown_twin.brand_id, unknown_twin.token_id) == (None, None, 999999)


def test_no_full_client_address_reaches_the_database_or_the_logs(
    site: Site, caplog: pytest.LogCaptureFixture, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Traffic through every door from a v4 and a v6 client; then the database (file bytes on SQLite,
    every table's text on PostgreSQL) and every log line are searched for the full addresses."""
    assert site.tag is not None and site.chip is not None
    v4, v6 = "198.51.100.173", "2a00:1450:4001:82b::200e"
    forms = (v4, v6, "2a00:1450:4001:82b:0:0:0:200e", "2a00:1450:4001:082b:0000:0000:0000:200e", "198.51.100.173")
    caplog.set_level("DEBUG")
    for ip in (v4, v6):
        with site.browser(f"10.0.0.1, {ip}") as phone:  # a spoofed first hop, then the client
            phone.get(label_url(site, 0), follow_redirects=True)
            phone.get(page(site, 0), params=site.tag.tap(), follow_redirects=True)
            phone.get(f"/v1/verify/{site.collection}/{site.tokens[0]}", headers={"Accept": "application/json"})
            phone.get(f"/v1/twins/{site.collection}/{site.tokens[1]}/tap", params=site.chip.tap())
            phone.get(f"/01/{gtin('400638133393').zfill(14)}/21/NO-SUCH-SERIAL")
    rows = site.scans()
    assert {r.network for r in rows} >= {"198.51.100.0/24", "2a00:1450:4001::/48"}
    engine = site.stack.runtime.engine
    if engine.dialect.name == "sqlite":
        engine.dispose()  # let SQLite fold its WAL back in (both files are read anyway)
        path = engine.url.database or ""
        files = [p for p in (path, path + "-wal") if os.path.exists(p)]
        stored = b"".join(Path(p).read_bytes() for p in files).decode("latin-1")
    else:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            stored = "\n".join(
                str(row) for table in list(tables) for row in conn.execute(text(f'SELECT * FROM "{table}"'))
            )
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for form in forms:
        assert form not in stored, f"{form} stored"
        assert form not in logged, f"{form} logged"
    assert "2a00:1450:4001::/48" in stored  # the search itself works: the truncated network is there


def _verify_path(site: Site) -> str:
    return f"/v1/verify/{site.collection}/{site.tokens[2]}"


def test_a_full_queue_drops_scans_without_slowing_an_answer(site: Site) -> None:
    """The writer is held (a listener that blocks) so the queue (20 here) fills: every later answer
    is as quick and as complete as before; the drops are counted; once released, what was queued is
    written."""
    recorder = site.stack.runtime.scans
    release, holding = threading.Event(), threading.Event()

    def hold(rows: Sequence[Scan]) -> None:
        holding.set()
        release.wait(30)

    with site.browser("8.8.8.8", Accept="application/json") as client:
        expected = client.get(_verify_path(site)).content  # warm
        stop_holding = recorder.on_batch(hold)
        try:
            client.get(_verify_path(site))
            assert holding.wait(10)
            before = recorder.stats.dropped_full
            timings = []
            for _ in range(60):
                started = time.perf_counter()
                r = client.get(_verify_path(site))
                timings.append(time.perf_counter() - started)
                assert r.status_code == 200 and r.content == expected
            assert recorder.stats.dropped_full - before >= 60 - 20
            assert max(timings) < 0.5, max(timings)  # a blocking put would hang here for 30 s
            waiting = recorder.waiting
            assert waiting == 20
        finally:
            release.set()
            stop_holding()
    last = site.last_id()
    assert recorder.flush(10)
    assert site.last_id() >= last


def test_a_database_refusing_the_batch_loses_nothing_of_the_answer(site: Site) -> None:
    """The scans table is taken away under the writer: pages and verdicts answer as before, the lost
    scans are counted; with the table back, recording goes on."""
    recorder = site.stack.runtime.scans
    engine = site.stack.runtime.engine
    with site.browser("8.8.8.8") as phone:
        expected_page = phone.get(page(site, 2))
        expected_verdict = phone.get(_verify_path(site), headers={"Accept": "application/json"}).content
        assert recorder.flush(10)
        failed = recorder.stats.dropped_failed
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE scans RENAME TO scans_away"))
        try:
            for _ in range(5):
                r = phone.get(page(site, 2))
                assert r.status_code == expected_page.status_code == 200
                assert r.headers["content-type"] == expected_page.headers["content-type"]
                v = phone.get(_verify_path(site), headers={"Accept": "application/json"})
                assert v.status_code == 200 and v.content == expected_verdict
            assert recorder.flush(10)
            assert recorder.stats.dropped_failed - failed == 10
        finally:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE scans_away RENAME TO scans"))
        last = site.last_id()
        assert phone.get(page(site, 2)).status_code == 200
    assert [r.channel for r in site.since(last)] == ["page"]


def test_a_batch_is_one_insert_and_listeners_get_the_stored_rows(site: Site) -> None:
    from sqlalchemy import event as sa_event

    from registry.scans.recorder import ScanEvent

    engine, recorder = site.stack.runtime.engine, site.stack.runtime.scans
    inserts: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SCANS"):
            inserts.append(statement)

    heard: list[list[Scan]] = []
    stop_listening = recorder.on_batch(lambda rows: heard.append(list(rows)))
    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        events = [ScanEvent(channel="verify", contract=site.collection, token_id=site.tokens[2]) for _ in range(300)]
        stored = recorder.write(events)
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
        stop_listening()
    assert len(inserts) == 1  # 300 rows, one statement
    assert len(stored) == 300 and len({r.id for r in stored}) == 300
    assert heard == [stored] and all(r.collection == site.collection and r.brand_id for r in stored)


def test_one_networks_repeats_of_one_twin_are_answered_and_recorded_up_to_the_cap(site: Site) -> None:
    """One client looping over one verify URL: every answer as before, at most
    `scan_record_per_minute` (120) of them recorded a minute. 250 requests: a minute may turn during
    them, so at least one minute holds 125, five past the cap."""
    recorder = site.stack.runtime.scans
    before, full, last = recorder.stats.capped, recorder.stats.dropped_full, site.last_id()
    with site.browser("198.18.7.9", Accept="application/json") as client:
        expected = client.get(_verify_path(site)).json()["authentic"]
        for _ in range(249):
            r = client.get(_verify_path(site))
            # The verdict stands; the answer may gain a caution if the rules find the loop suspicious.
            assert r.status_code == 200 and r.json()["authentic"] == expected
    capped = recorder.stats.capped - before
    assert 5 <= capped <= 250 - 120
    recorded = [s for s in site.since(last) if s.network == "198.18.7.0/24"]
    assert len(recorded) == 250 - capped - (recorder.stats.dropped_full - full)  # this site's queue holds 20


def test_the_cap_counts_per_network_twin_and_channel_and_resets_each_minute(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.scans import recorder as recorder_module
    from registry.scans.geo import Locator
    from registry.scans.recorder import ScanEvent, ScanRecorder

    now = [600.0]
    recorder = ScanRecorder(
        site.stack.runtime.engine, size=100, batch=100, locator=Locator(), per_minute=3, clock=lambda: now[0]
    )

    def scan(network: str = "192.0.2.0/24", token: int = 1, channel: str = "verify") -> bool:
        return recorder.submit(ScanEvent(channel=channel, contract=site.collection, token_id=token, network=network))

    assert [scan() for _ in range(5)] == [True, True, True, False, False]
    assert scan(token=2) and scan(network="198.51.100.0/24") and scan(channel="page")  # other keys: own counts
    assert recorder.submit(ScanEvent(channel="verify", contract=site.collection, token_id=1))  # no network: no cap
    now[0] += 60  # the next minute
    assert scan()
    assert recorder.stats.capped == 2 and recorder.waiting == 8
    monkeypatch.setattr(recorder_module, "CAP_KEYS", len(recorder._counts))  # the counted keys are full
    assert [scan(network="203.0.113.0/24") for _ in range(5)] == [True] * 5  # a new network: recorded, uncounted
