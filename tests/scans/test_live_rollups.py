"""Live rollups (SQLite and PostgreSQL): the scan writer's running counts equal a recount of the raw
log after any sequence of batches (sessions repeated within a batch, across batches, across days and
between two writers at once), the nightly rollup replaces them without counting anything twice, and
the retention purge leaves the numbers as they were."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, case, func, insert, literal
from sqlmodel import Session, col, select

from registry.brands.models import Brand
from registry.db.engine import MIGRATIONS, make_engine, migrate, session_scope
from registry.scans import live, service
from registry.scans.geo import Locator
from registry.scans.models import (
    Scan,
    ScanDaily,
    ScanDailyTotal,
    ScanDailyTwin,
    ScanDaySession,
    ScanRollup,
    ScanTwinWindow,
)
from registry.scans.recorder import ScanEvent, ScanRecorder
from registry.twins.models import Twin
from tests.api.conftest import _database_url
from tests.conftest import postgres_server  # noqa: F401 - the fixture _database_url asks for

BRAND, OTHER = "brand-live", "brand-other"
COLLECTIONS = [to_checksum_address("0x" + k * 20) for k in ("a1", "b2")]  # as the twins table keys them
OTHERS = to_checksum_address("0x" + "c3" * 20)
NETWORKS = ["8.8.8.0/24", "1.0.16.0/24", "81.2.69.0/24", None]  # US, JP, GB, unknown
BYS = ("day", "country", "channel", "collection", "twin")
DAY = (datetime.now(UTC) - timedelta(days=4)).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _database_url(request, tmp_path)


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    built = make_engine(url)
    migrate(built)
    with session_scope(built) as s:
        _brands(s)
    yield built
    built.dispose()


# Twins' columns added after migration 0017, which the upgrade test's database does not have yet.
_LATER_TWIN_COLUMNS = {"owner_since", "last_serviced_at"}


def _brands(s: Session, *, before_0018: bool = False) -> None:
    for i, (brand, collections) in enumerate(((BRAND, COLLECTIONS), (OTHER, [OTHERS]))):
        s.add(Brand(id=brand, name=brand, chain_brand_id=i + 1, admin_address="0x" + "0" * 40))
        s.flush()
        for collection in collections:
            for token in range(4):
                twin = _twin(brand, collection, token)
                if not before_0018:
                    s.add(twin)
                    continue
                row = {k: v for k, v in twin.model_dump().items() if k not in _LATER_TWIN_COLUMNS}
                s.execute(insert(Twin).values(**row))


def _twin(brand: str, collection: str, token: int) -> Twin:
    return Twin(
        collection=collection,
        token_id=token,
        brand_id=brand,
        batch_id=1,
        kind="physical",
        name=f"T{token}",
        metadata_cid="cid",
        dir_cid="dir",
        token_uri="ipfs://dir/0",
        tx_hash="0x",
        block_number=1,
        metadata_json="{}",
    )


def _recorder(engine: Engine) -> ScanRecorder:
    return ScanRecorder(engine, size=1_000, batch=1_000, locator=Locator())


def _events(rng: random.Random, n: int, day: datetime, sessions: int) -> list[ScanEvent]:
    out = []
    for _ in range(n):
        collection = rng.choice([*COLLECTIONS, OTHERS, "not-an-address"])  # the last: no twin, no brand
        session = rng.choice([None, *(f"s{k}" for k in range(sessions))])
        at = day + timedelta(seconds=rng.randrange(86_400))
        channel = rng.choice(["resolver", "page", "page", "tap", "verify"])
        out.append(
            ScanEvent(
                channel=channel,
                contract=collection,
                token_id=rng.randrange(5),  # token 4: no such twin
                network=rng.choice(NETWORKS),
                session=session,
                at=at,
            )
        )
    return out


def _recount(engine: Engine, brand: str, by: str, first: date, last: date) -> dict[str, tuple[int, int, int]]:
    """The numbers counted in Python from the raw log, as the rollups define them: sessions distinct
    per day and group (twin, country, channel by twin; else collection, country, channel), summed."""
    with session_scope(engine) as s:
        rows = s.exec(select(Scan).where(Scan.brand_id == brand)).all()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    seen: set[tuple[Any, ...]] = set()
    for r in rows:
        day = live.day_of(r.at)
        if not first <= day <= last:
            continue
        twin = f"{r.collection}/{r.token_id}" if r.collection is not None else "unknown"
        key = {"day": str(day), "country": r.country or "unknown", "channel": r.channel}.get(by)
        key = key or (twin if by == "twin" else r.collection or "unknown")
        counts[key][0] += 1
        counts[key][2] += r.channel == "tap"
        grain = (
            (r.collection, r.token_id, r.country, r.channel) if by == "twin" else (r.collection, r.country, r.channel)
        )
        if r.session is not None and (day, grain, r.session) not in seen:
            seen.add((day, grain, r.session))
            counts[key][1] += 1
    return {k: (v[0], v[1], v[2]) for k, v in counts.items()}


def _numbers(engine: Engine, brand: str, by: str, first: date, last: date) -> dict[str, tuple[int, int, int]]:
    with session_scope(engine) as s:
        figures = service.aggregates(s, brand, first, last, by).figures  # type: ignore[arg-type]
    return {f.key: (f.scans, f.sessions, f.taps) for f in figures if f.scans}


def _assert_recounted(engine: Engine, first: date, last: date) -> None:
    for brand in (BRAND, OTHER):
        for by in BYS:
            assert _numbers(engine, brand, by, first, last) == _recount(engine, brand, by, first, last), (brand, by)


def _live_rows(s: Session, day: date) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for table in (ScanDailyTwin, ScanDailyTotal):
        query = select(table).where(table.day == day)
        rows = [r.model_dump(exclude={"id"}) for r in s.exec(query)]
        out += sorted(((table.__name__, *sorted(r.items())) for r in rows), key=repr)
    return out


def test_the_writers_counts_equal_a_recount_of_the_raw_log(engine: Engine) -> None:
    rng, recorder, day = random.Random(21), _recorder(engine), DAY.date()
    for size in (1, 7, 60, 200, 3):  # a few sessions, so they repeat within and across batches
        assert len(recorder.write(_events(rng, size, DAY, sessions=12))) == size
        _assert_recounted(engine, day, day)
    assert sum(n[0] for n in _numbers(engine, BRAND, "twin", day, day).values()) > 100  # the brand's twins found
    repeat = _events(rng, 1, DAY, sessions=1) * 5  # one session's scans of one twin, five in a batch
    recorder.write([dataclasses.replace(e, session="s-again") for e in repeat])
    _assert_recounted(engine, day, day)
    assert recorder.stats.dropped_failed == 0
    with session_scope(engine) as s:
        written = _live_rows(s, day)
        sessions = set(s.exec(select(ScanDaySession.grp, ScanDaySession.session)).all())
        # What `recount_live` (the benchmark's and the upgrade's shortcut) builds is what the writer left.
        live.recount_live(s.connection(), day)
        assert _live_rows(s, day) == written
        assert set(s.exec(select(ScanDaySession.grp, ScanDaySession.session)).all()) == sessions
    # The nightly rollup recounts the day: nothing counted twice, its session rows gone.
    assert day in service.roll_up(engine)
    _assert_recounted(engine, day, day)
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(ScanDaySession).where(ScanDaySession.day == day)).one() == 0
        assert s.exec(select(func.count()).select_from(ScanDailyTwin).where(ScanDailyTwin.grp.is_not(None))).one() == 0  # type: ignore[union-attr]


def test_a_batch_across_midnight_counts_in_each_day_and_survives_rollup_and_purge(engine: Engine) -> None:
    recorder, midnight = _recorder(engine), DAY + timedelta(days=1)
    first, second = DAY.date(), midnight.date()

    def at(when: datetime, session: str | None, channel: str = "page", token: int = 0) -> ScanEvent:
        return ScanEvent(
            channel, contract=COLLECTIONS[0], token_id=token, network=NETWORKS[0], session=session, at=when
        )

    late, early = midnight - timedelta(milliseconds=100), midnight + timedelta(milliseconds=100)
    recorder.write([at(late, "s1"), at(early, "s1"), at(early, "s1", "tap"), at(late, "s2", token=1)])
    recorder.write([at(early, "s1"), at(early + timedelta(hours=3), "s2")])
    expected_by_day = {str(first): (2, 2, 0), str(second): (4, 3, 1)}  # s1 counts once in each day it scanned
    assert _numbers(engine, BRAND, "day", first, second) == expected_by_day
    _assert_recounted(engine, first, second)
    before = {by: _numbers(engine, BRAND, by, first, second) for by in BYS}

    assert {first, second} <= set(service.roll_up(engine))
    assert service.roll_up(engine) == []
    assert {by: _numbers(engine, BRAND, by, first, second) for by in BYS} == before  # not counted twice
    # A scan stored after its day was rolled still counts (its session again: the day's list is gone).
    recorder.write([at(early + timedelta(hours=5), "s1")])
    assert _numbers(engine, BRAND, "day", second, second) == {str(second): (5, 4, 1)}
    assert service.purge(engine, retention_days=1) == 7  # every raw scan of those days, and the late one
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Scan)).one() == 0
        assert s.exec(select(func.count()).select_from(ScanDaySession)).one() == 0  # no session hash left
    after = {by: _numbers(engine, BRAND, by, first, second) for by in BYS}
    assert after["day"] == {str(first): (2, 2, 0), str(second): (5, 4, 1)}
    assert after["twin"] == {f"{COLLECTIONS[0]}/0": (6, 5, 1), f"{COLLECTIONS[0]}/1": (1, 1, 0)}


def test_two_writers_at_once_count_a_session_once(engine: Engine) -> None:
    """Two API processes' writers store overlapping sessions of the same twins at the same moment:
    the session table's unique key lets one of them count each (day, group, session)."""
    day = DAY.date()
    batches = [_events(random.Random(seed), 150, DAY, sessions=6) for seed in range(8)]
    recorders = [_recorder(engine), _recorder(engine)]
    barrier = threading.Barrier(2)

    def run(k: int) -> None:
        barrier.wait()
        for batch in batches[k::2]:
            recorders[k].write(batch)

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(r.stats.written for r in recorders) == 8 * 150
    assert all(r.stats.dropped_failed == 0 for r in recorders)
    _assert_recounted(engine, day, day)


def test_erasure_forgets_the_session_in_the_live_day(engine: Engine) -> None:
    recorder = _recorder(engine)
    event = ScanEvent("page", contract=COLLECTIONS[0], token_id=0, network=NETWORKS[0], session="gone", at=DAY)
    recorder.write([event])
    with session_scope(engine) as s:
        assert service.delete_session(s, "gone", OTHER) == 0  # another brand's erasure: not this brand's rows
        assert s.exec(select(func.count()).select_from(ScanDaySession)).one() == 2
        assert service.delete_session(s, "gone", BRAND) == 1
        assert s.exec(select(func.count()).select_from(ScanDaySession)).one() == 0
    day = DAY.date()
    assert _numbers(engine, BRAND, "day", day, day) == {str(day): (1, 1, 0)}  # counts stay


def test_the_per_twin_view_pages_through_every_twin_once(engine: Engine) -> None:
    day = DAY.date()
    _recorder(engine).write(_events(random.Random(5), 300, DAY, sessions=20))
    unseen = (COLLECTIONS[1], 9)  # no scans: an alert raised of it still shows, on the last page
    raised = [(DAY, unseen[0], unseen[1]), (DAY, COLLECTIONS[0], 1)]
    with session_scope(engine) as s:
        whole = service.aggregates(s, BRAND, day, day, "twin", raised)
        pages, after = [], None
        while True:
            page = service.aggregates(s, BRAND, day, day, "twin", raised, limit=3, after=after)
            assert len(page.figures) <= 3 or page.after is None
            pages.append(page.figures)
            if page.after is None:
                break
            after = service.After.decode(page.after.encode())
    paged = [f for p in pages for f in p]
    assert whole.after is None and len(pages) == 3  # 8 twins scanned, 3 a page; the alert-only twin last
    assert sorted(paged, key=lambda f: f.key) == sorted(whole.figures, key=lambda f: f.key)
    scanned = [f for f in paged if f.scans]
    assert [f.scans for f in scanned] == sorted((f.scans for f in scanned), reverse=True)
    assert paged[-1].key == f"{unseen[0]}/{unseen[1]}" and (paged[-1].scans, paged[-1].alerts) == (0, 1)
    assert next(f for f in paged if f.key == f"{COLLECTIONS[0]}/1").alerts == 1


def test_the_upgrade_counts_the_days_not_rolled_from_the_raw_log(url: str) -> None:
    """Migration 0018 on a log with rolled days and a day not rolled yet: the rolled days get their
    per-twin rows from `scan_daily`, the other day its live rows as the writer would have left them."""
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0017")
    rolled, open_day = DAY.date(), DAY.date() + timedelta(days=1)
    rng = random.Random(16)
    with session_scope(engine) as s:
        _brands(s, before_0018=True)
        for day in (DAY, DAY + timedelta(days=1)):
            for e in _events(rng, 120, day, sessions=15):
                collection = e.contract if e.contract in COLLECTIONS and e.token_id != 4 else None
                brand = BRAND if collection else None
                s.add(
                    Scan(
                        at=e.at,
                        brand_id=brand,
                        collection=collection,
                        token_id=e.token_id,
                        channel=e.channel,
                        country=Locator().locate(e.network).country,
                        session=e.session,
                    )
                )
        s.flush()
        s.add(ScanRollup(day=rolled))
        s.flush()
        fine = live.twin_counts(rolled).subquery()
        names = ["brand_id", *live.TWIN_GRAIN, "scans", "sessions", "taps"]
        query = select(literal(rolled), *(fine.c[n] for n in names))
        s.connection().execute(insert(ScanDaily).from_select(["day", *names], query))
        taps = func.sum(case((col(Scan.channel) == "tap", 1), else_=0))
        group = [col(Scan.brand_id), *(getattr(Scan, k) for k in live.TOTAL_GRAIN)]
        sessions = func.count(col(Scan.session).distinct())
        counted = select(literal(rolled), *group, func.count(), sessions, taps).where(
            col(Scan.at) < DAY + timedelta(days=1)
        )
        names = ["day", "brand_id", *live.TOTAL_GRAIN, "scans", "sessions", "taps"]
        s.connection().execute(insert(ScanDailyTotal).from_select(names, counted.group_by(*group)))
    migrate(engine)
    _assert_recounted(engine, rolled, open_day)
    with session_scope(engine) as s:  # the per-twin windows up to the last rolled day, 7 days' ending tomorrow too
        windows = set(s.exec(select(ScanTwinWindow.first, ScanTwinWindow.last).distinct()).all())
        assert (rolled - timedelta(days=4), rolled) in windows and len(windows) == 2 * len(service.WINDOWS)
    assert _numbers(engine, BRAND, "twin", rolled - timedelta(days=5), open_day) == _recount(
        engine, BRAND, "twin", rolled - timedelta(days=5), open_day
    )
    with session_scope(engine) as s:
        upgraded = _live_rows(s, open_day)
        assert upgraded and all(row[-1] != ("grp", None) for row in upgraded)  # keyed: the writer adds to them
        live.recount_live(s.connection(), open_day)
        assert _live_rows(s, open_day) == upgraded
    # Counting goes on from there: the writer's next batch adds to the upgraded rows.
    _recorder(engine).write(_events(rng, 50, DAY + timedelta(days=1), sessions=15))
    _assert_recounted(engine, rolled, open_day)
    engine.dispose()


def test_the_standard_windows_count_as_the_days_do(engine: Engine) -> None:
    """The per-twin view of the last 7 or 30 days reads the rolled days' window sums plus today's
    live rows: the same numbers as the days, also once more scans come in today."""
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    today, rng, recorder = now.date(), random.Random(7), _recorder(engine)
    for back in range(10, -1, -1):
        recorder.write(_events(rng, 40, now.replace(hour=0) - timedelta(days=back), sessions=10))
    service.roll_up(engine, now=now)
    with session_scope(engine) as s:
        windows = set(s.exec(select(ScanTwinWindow.first, ScanTwinWindow.last).distinct()).all())
    yesterday = today - timedelta(days=1)
    # Those that end today, and tomorrow (asked after midnight, before today is rolled up).
    assert windows == {(today - timedelta(days=n - k), yesterday) for n in service.WINDOWS for k in (1, 2)}
    tomorrow = today + timedelta(days=1)
    recorder.write(_events(rng, 30, now + timedelta(days=1), sessions=10))
    for days in (7, 30, 5):  # 5: no window, the days are read
        for last in (yesterday, today, tomorrow):
            first = last - timedelta(days=days - 1)
            assert _numbers(engine, BRAND, "twin", first, last) == _recount(engine, BRAND, "twin", first, last)
    recorder.write(_events(rng, 30, now, sessions=10))
    first = today - timedelta(days=6)
    assert _numbers(engine, BRAND, "twin", first, today) == _recount(engine, BRAND, "twin", first, today)


def test_a_batch_whose_rollup_fails_is_not_stored(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scans and their rollups are one transaction: the database failing between the two (here,
    the rollup's statement refused after the scans' INSERT ran) leaves neither, so the counts never
    drift from the log."""
    recorder, day = _recorder(engine), DAY.date()
    recorder.write(_events(random.Random(3), 50, DAY, sessions=5))
    before = {by: _numbers(engine, BRAND, by, day, day) for by in BYS}
    real = live.add_batch

    def fail_after_the_scans(conn: Any, scans: Any) -> None:
        real(conn, scans)
        conn.exec_driver_sql("SELECT * FROM no_such_table")  # the database refusing mid-transaction

    monkeypatch.setattr(live, "add_batch", fail_after_the_scans)
    assert recorder.write(_events(random.Random(4), 50, DAY, sessions=5)) == []
    assert recorder.stats.dropped_failed == 50
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Scan)).one() == 50
    assert {by: _numbers(engine, BRAND, by, day, day) for by in BYS} == before
    _assert_recounted(engine, day, day)
