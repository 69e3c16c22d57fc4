"""What the console's pages read, on SQLite and PostgreSQL: the brand's twins a page at a time by a
keyset cursor and searched by GTIN, serial, token id and name (another brand's never); a twin's
recent scans newest first without network or session; the overview's days, countries, channels,
open alerts and jobs in progress, from the scan aggregates, for the brand alone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from registry.alerts.models import Alert
from registry.dashboard.overview import overview
from registry.dashboard.twins import guess_field, own_twin, page_of_twins, recent_scans
from registry.db.engine import session_scope
from registry.errors import InvalidInput, NotFound
from registry.jobs.models import Job, JobState
from registry.scans import live
from registry.twins.gs1 import gtin_check_digit
from tests.alerts.conftest import A_COLLECTION, B_COLLECTION, NOW, TOKEN, db, record, twin

__all__ = ["db"]  # the fixture: a migrated database (SQLite, PostgreSQL) with brands a and b

GTIN = "400638133393" + str(gtin_check_digit("400638133393"))


def _seed_twins(engine: Engine) -> None:
    with session_scope(engine) as s:
        for i in range(1, 8):
            made = twin(A_COLLECTION, "brand-a", TOKEN + i, gtin=GTIN.zfill(14), serial=f"S-{i}")
            made.name = f"Sac {'Rouge' if i % 2 else 'Noir'} {i}"
            s.add(made)
        other = twin(B_COLLECTION, "brand-b", TOKEN + 1, gtin=GTIN.zfill(14), serial="S-1")
        other.name = "Sac Rouge B"
        s.add(other)


def test_pages_and_searches(db: Engine) -> None:
    _seed_twins(db)
    with session_scope(db) as s:
        seen, cursor = [], None
        while True:
            rows, cursor = page_of_twins(s, "brand-a", cursor=cursor, limit=3)
            seen += [(r.collection, r.token_id) for r in rows]
            if cursor is None:
                break
        assert seen == [(A_COLLECTION, TOKEN + i) for i in range(7, -1, -1)]  # newest token first, each once

        def tokens(query: str, field: str = "any") -> list[int]:
            return [r.token_id for r in page_of_twins(s, "brand-a", query, field)[0]]  # type: ignore[arg-type]

        assert tokens(GTIN) == [TOKEN + i for i in range(7, 0, -1)]  # 13 digits: a GTIN
        assert tokens(GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10)) == []  # a wrong check digit finds nothing
        assert tokens("S-3") == [TOKEN + 3] and tokens("S-3", "serial") == [TOKEN + 3]
        assert tokens(str(TOKEN + 5)) == [TOKEN + 5] and tokens(str(TOKEN + 5), "token") == [TOKEN + 5]
        assert tokens("rouge", "name") == [TOKEN + 7, TOKEN + 5, TOKEN + 3, TOKEN + 1]  # any case
        assert tokens("noir 4") == [TOKEN + 4]  # not a serial: a name
        assert tokens("_", "name") == [] and tokens("%", "name") == []  # LIKE's wildcards are characters
        assert tokens("99999999999999999999999", "token") == []
        assert all(r.brand_id == "brand-a" for r in page_of_twins(s, "brand-a", "Sac", "name")[0])
        assert page_of_twins(s, "brand-c")[0] == []
        with pytest.raises(InvalidInput):
            page_of_twins(s, "brand-a", cursor="0x1234:5")
        assert guess_field("12345678") == "gtin" and guess_field("42") == "token" and guess_field("A-1") == "any"
        with pytest.raises(NotFound):
            own_twin(s, "brand-a", B_COLLECTION, TOKEN + 1)


def test_a_twins_recent_scans(db: Engine) -> None:
    with session_scope(db) as s:
        rows = [
            {
                "channel": "page",
                "arrival": "qr",
                "country": "FR",
                "network": "203.0.113.0/24",
                "session": "s" * 64,
                "minutes_ago": m,
            }
            for m in (30, 10, 20)
        ]
        record(s, A_COLLECTION, "brand-a", rows)
        record(s, A_COLLECTION, "brand-b", [{"channel": "page", "minutes_ago": 1}])  # not the twin's brand
        lines = recent_scans(s, own_twin(s, "brand-a", A_COLLECTION, TOKEN))
    assert [NOW - line.at.replace(tzinfo=NOW.tzinfo) for line in lines] == [timedelta(minutes=m) for m in (10, 20, 30)]
    assert not any(hasattr(line, "network") or hasattr(line, "session") for line in lines)


def test_the_overview_is_the_brands_alone(db: Engine) -> None:
    with session_scope(db) as s:
        record(
            s,
            A_COLLECTION,
            "brand-a",
            [
                {"channel": c, "country": k, "session": str(i)}
                for i, (c, k) in enumerate(
                    [("page", "FR"), ("page", "FR"), ("tap", "CN"), ("resolver", None), ("verify", "FR")]
                )
            ],
        )
        record(s, B_COLLECTION, "brand-b", [{"channel": "page", "country": "JP"}] * 4)
        for i, state in enumerate(("open", "open", "resolved")):
            s.add(
                Alert(
                    brand_id="brand-a",
                    rule="scan-count",
                    subject=f"x{i}",
                    collection=A_COLLECTION,
                    token_id=TOKEN,
                    state=state,
                    facts=json.dumps({"scans": 9}),
                    raised_at=NOW,
                )
            )
        s.add(Alert(brand_id="brand-b", rule="scan-count", subject="y", state="open", facts="{}", raised_at=NOW))
        for i, state in enumerate((JobState.running, JobState.accepted, JobState.completed)):
            s.add(Job(id=f"job-a{i}", brand_id="brand-a", request_hash="h", kind="batch", state=state, total=10))
        s.add(Job(id="job-b", brand_id="brand-b", request_hash="h", kind="batch", state=JobState.running, total=5))
        s.flush()
        live.recount_live(s.connection(), NOW.date())  # what the scan writer counts as it stores them
    with session_scope(db) as s:
        view = overview(s, "brand-a", 7, today=NOW.date())
        assert len(view.days) == 7 and view.days[-1] == NOW.date()
        assert view.series["scans"] == [0] * 6 + [5] and view.series["taps"] == [0] * 6 + [1]
        assert view.series["alerts"][-1] == 3
        assert view.countries == [("FR", 3, 3), ("CN", 1, 1), ("unknown", 1, 1)]
        assert [(c, n) for c, n, _ in view.channels] == [("resolver", 1), ("page", 2), ("tap", 1), ("verify", 1)]
        assert view.open_alerts == 2 and len(view.newest_alerts) == 2
        assert all(a.brand_id == "brand-a" and a.state == "open" for a in view.newest_alerts)
        assert sorted(j.id for j in view.jobs) == ["job-a0", "job-a1"]
