"""The console's working lists page by keyset cursor, on SQLite and PostgreSQL: a few hundred jobs,
tags and deliveries per brand seeded directly (creation times tied in threes, so the id must break
ties), every page walked through the served pages' own "next page" links, each row once, newest
first, never another brand's; a cursor the service never gave is a 422 (problem+json for a script,
the page with a readable notice for a browser), never a 500 nor another brand's rows. A new API key
or webhook secret is shown once by the page the form redirects to, so a reload shows it no more and
posts nothing; another member cannot read it. One Chromium walk follows "下一页" in zh-CN."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser
from sqlmodel import Session, col, select

from api.console.minting import JOBS_LISTED
from registry.auth.vault import server_key
from registry.dashboard import lists
from registry.db.engine import session_scope
from registry.errors import InvalidInput
from registry.jobs.models import Job
from registry.nfc.models import NfcTag
from registry.staff.models import StaffChallenge, StaffRole
from registry.webhooks import service as hooks
from registry.webhooks.models import Delivery, DeliveryAttempt, Subscription
from tests.alerts.conftest import twin
from tests.console.ops_support import Console, console_both_fixture  # noqa: F401 - the fixture

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
BASE = datetime(2026, 11, 1, 12, tzinfo=UTC)
JOBS, TAGS, DELIVERIES = 230, 260, 130  # each more than one page (50, 200, 20 a page)
BAD = [
    "garbage",
    "1:",
    ":abc",
    "-5:abc",
    "12:" + "x" * 65,
    "\uff11\uff12:abc",  # full-width digits
    "1' OR '1'='1",
    "9" * 18 + ":abc",
    "\u0663:abc",  # an Arabic-Indic digit
    "9" * 200,
]


@dataclass
class Seeded:
    jobs: dict[str, list[str]]  # brand -> ids, newest first
    labelled: dict[str, list[str]]  # brand -> ids of jobs with twins recorded, newest first
    tags: dict[str, list[str]]  # brand -> identities, newest first
    deliveries: dict[str, list[int]]  # webhook id -> delivery ids, newest first
    hooks: dict[str, list[str]]  # brand -> webhook ids (the first has many deliveries)


def _newest_first(rows: list[tuple[datetime, str]]) -> list[str]:
    return [ident for _, ident in sorted(rows, reverse=True)]


@pytest.fixture(scope="module")
def seeded(console: Console) -> Seeded:
    out = Seeded({}, {}, {}, {}, {})
    with session_scope(console.stack.runtime.engine) as s:
        for b, brand in enumerate(("aurele", "rival")):
            brand_id, collection = console.brands[brand]["id"], console.brands[brand]["collection"]
            jobs: list[tuple[datetime, str]] = []
            labelled: list[tuple[datetime, str]] = []
            tags: list[tuple[datetime, str, str]] = []
            for i in range(JOBS):
                at = BASE + timedelta(seconds=i // 3, microseconds=b)  # three by three at the same time
                job = Job(
                    id=str(uuid.uuid4()),
                    brand_id=brand_id,
                    request_hash="seeded",
                    kind="batch",
                    state="completed",
                    total=2,
                    recorded=2 if i % 4 else 0,
                    created_at=at,
                )
                s.add(job)
                jobs.append((at, job.id))
                if job.recorded:
                    labelled.append((at, job.id))
            for i in range(TAGS):
                at = BASE + timedelta(seconds=i // 3, microseconds=b)
                tag = NfcTag(
                    id=str(uuid.uuid4()),
                    kind="ntag424",
                    identity=f"04{b:02X}{i:010X}",
                    brand_id=brand_id,
                    collection=collection,
                    token_id=900_000 + i,
                    created_at=at,
                )
                s.add(tag)
                tags.append((at, tag.id, tag.identity))
                if i % 50 == 0:  # some tags' twins are in the index: shown by name
                    made = twin(collection, brand_id, 900_000 + i)
                    made.name = f"Seeded {brand} {i}"
                    s.add(made)
            out.jobs[brand], out.labelled[brand] = _newest_first(jobs), _newest_first(labelled)
            out.tags[brand] = [identity for _, _, identity in sorted(tags, reverse=True)]  # by time, then id
            out.hooks[brand] = []
            for h, count in enumerate((DELIVERIES, 3)):
                sub = Subscription(
                    id=str(uuid.uuid4()),
                    brand_id=brand_id,
                    url=f"https://hooks.example/{brand}/{h}",
                    event_types='["minted"]',
                    secret="seeded-secret",
                    created_at=BASE - timedelta(days=h),  # the busy one first
                )
                s.add(sub)
                s.flush()
                ids = []
                for i in range(count):
                    # Delivered already: the running sender leaves them alone.
                    d = Delivery(
                        subscription_id=sub.id,
                        event_id=f"evt-{brand}-{h}-{i}",
                        event_type="minted",
                        payload="{}",
                        state="delivered",
                        attempts=1,
                    )
                    s.add(d)
                    s.flush()
                    assert d.id is not None
                    s.add(DeliveryAttempt(delivery_id=d.id, status_code=200, duration_ms=5))
                    ids.append(d.id)
                out.deliveries[sub.id] = ids[::-1]
                out.hooks[brand].append(sub.id)
    return out


def _walk(client: httpx.Client, first: str, row: str, next_link: str) -> tuple[list[str], int]:
    """Every row named by the pattern `row`, following the link the pattern `next_link` finds."""
    seen, url, pages = [], first, 0
    while url:
        r = client.get(url, headers=HTML)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        assert "OFFSET" not in url
        seen += re.findall(row, r.text)
        pages += 1
        found = re.search(next_link, r.text)
        url = html.unescape(found.group(1)) if found else ""
        assert pages < 100
    return seen, pages


def _client(console: Console, brand: str, role: StaffRole) -> httpx.Client:
    member = console.staff(brand, role)
    return httpx.Client(base_url=console.url, cookies=member.cookies(), headers={"Origin": console.url})


def test_jobs_on_the_minting_page_page_by_cursor(console: Console, seeded: Seeded) -> None:
    with _client(console, "aurele", StaffRole.analyst) as client:
        seen, pages = _walk(client, "/console/minting", r'data-job="([^"]+)"', r'id="jobs-next" href="([^"]+)"')
    assert seen == seeded.jobs["aurele"]  # newest first, each once, none of rival's
    assert pages == -(-JOBS // JOBS_LISTED)


def test_labels_page_jobs_and_tags_page_by_their_own_cursors(console: Console, seeded: Seeded) -> None:
    with _client(console, "aurele", StaffRole.operator) as client:
        jobs, _ = _walk(client, "/console/labels", r'<tr id="job-([^"]+)"', r'id="jobs-next" href="([^"]+)"')
        tags, pages = _walk(client, "/console/labels", r'data-tag="([^"]+)"', r'id="tags-next" href="([^"]+)"')
        named = client.get("/console/labels", headers=HTML).text
    assert jobs == seeded.labelled["aurele"]  # only jobs with twins recorded (they have labels)
    assert tags == seeded.tags["aurele"] and pages == 2
    assert "Seeded aurele 250" in named and "Seeded rival" not in named  # a tag's twin, by name


def test_a_webhooks_delivery_log_pages_and_the_others_stay_on_their_first(console: Console, seeded: Seeded) -> None:
    busy, quiet = seeded.hooks["aurele"]
    with _client(console, "aurele", StaffRole.operator) as client:
        pages: list[str] = []
        url = "/console/integrations"
        while url:
            r = client.get(url, headers=HTML)
            assert r.status_code == 200, r.text[:300]
            hooks_on_page = dict(re.findall(r'<article class="hook" id="webhook-([^"]+)"(.*?)</article>', r.text, re.S))
            assert set(hooks_on_page) == {busy, quiet}  # rival's webhooks are not listed
            assert re.findall(r'data-delivery="(\d+)"', hooks_on_page[quiet]) == [
                str(i) for i in seeded.deliveries[quiet]
            ]
            pages += re.findall(r'data-delivery="(\d+)"', hooks_on_page[busy])
            found = re.search(r'class="deliveries-next" href="([^"]+)"', hooks_on_page[busy])
            url = html.unescape(found.group(1)) if found else ""
    assert pages == [str(i) for i in seeded.deliveries[busy]]
    rival = seeded.hooks["rival"][0]
    with _client(console, "aurele", StaffRole.analyst) as client:
        # Another brand's webhook named in the query: not found (its log is never read).
        r = client.get("/console/integrations", params={"webhook": rival, "cursor": "999999"}, headers=HTML)
        assert r.status_code == 404 and "evt-rival" not in r.text


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/console/minting", "cursor"),
        ("/console/labels", "jobs_cursor"),
        ("/console/labels", "tags_cursor"),
        ("/console/integrations", "cursor"),
    ],
)
def test_a_cursor_the_service_never_gave_is_a_422(console: Console, seeded: Seeded, path: str, name: str) -> None:
    extra = {"webhook": seeded.hooks["aurele"][0]} if path.endswith("integrations") else {}
    with _client(console, "aurele", StaffRole.analyst) as client:
        for bad in BAD:
            r = client.get(path, params=extra | {name: bad}, headers=JSON)
            assert r.status_code == 422, (bad, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["type"].endswith("invalid-input") and name in r.json()["detail"]
            page = client.get(path, params=extra | {name: bad}, headers=HTML)
            assert page.status_code == 422 and page.headers["content-type"].startswith("text/html"), bad
            assert "cursor-refused" in page.text and "not one the console gave" in page.text
            assert "rival" not in page.text  # the first page again, this brand's
        # A well-formed cursor past the end is an empty page, not an error.
        assert client.get(path, params=extra | {name: "0:0"}, headers=HTML).status_code == 200


def test_the_listing_functions_walk_with_small_pages(console: Console, seeded: Seeded) -> None:
    """Pages of 7 land inside the ties of three; both kinds of cursor, on the database itself."""
    brand_id = console.brands["aurele"]["id"]
    with Session(console.stack.runtime.engine) as s:
        for fetch, want in (
            (lambda c: lists.page_of_jobs(s, brand_id, c, limit=7), seeded.jobs["aurele"]),
            (lambda c: lists.page_of_jobs(s, brand_id, c, labelled=True, limit=7), seeded.labelled["aurele"]),
        ):
            assert _all(fetch, lambda j: j.id) == want
        assert (
            _all(lambda c: lists.page_of_tags(s, brand_id, c, limit=7), lambda t: t.identity) == seeded.tags["aurele"]
        )
        busy = s.get(Subscription, seeded.hooks["aurele"][0])
        assert busy is not None
        assert (
            _all(lambda c: lists.page_of_deliveries(s, busy, c, limit=7), lambda d: d.id) == seeded.deliveries[busy.id]
        )
        for bad in BAD:
            with pytest.raises(InvalidInput):
                lists.page_of_jobs(s, brand_id, bad)
        for bad in ("12:abc", "12:" + "9" * 19, "12", *BAD):  # a delivery's id is a number (a BIGINT)
            with pytest.raises(InvalidInput):
                lists.page_of_deliveries(s, busy, bad)


def _all(fetch: Callable[[str | None], tuple[list[Any], str | None]], ident: Callable[[Any], Any]) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    while True:
        rows, cursor = fetch(cursor)
        seen += [ident(r) for r in rows]
        if cursor is None:
            return seen


def _reveal_rows(console: Console, staff_id: str) -> list[StaffChallenge]:
    with Session(console.stack.runtime.engine) as s:
        return list(s.exec(select(StaffChallenge).where(col(StaffChallenge.staff_id) == staff_id)))


def test_a_new_key_is_shown_once_and_a_reload_neither_shows_it_nor_makes_another(console: Console) -> None:
    admin = console.staff("aurele", StaffRole.admin)
    other = console.staff("aurele", StaffRole.admin)
    with httpx.Client(base_url=console.url, cookies=admin.cookies(), headers={"Origin": console.url}) as client:
        before = client.get("/console/integrations", headers=HTML).text.count("data-key=")
        made = client.post("/console/integrations/keys", data={"csrf": admin.csrf}, headers=HTML)
        # The form's answer carries no secret: a redirect the browser follows with a GET.
        assert made.status_code == 303 and "tmk_" not in made.text
        shown = made.headers["location"]
        assert shown.startswith("/console/integrations?shown=") and shown.endswith("#keys")
        # A colleague who learns the address reads nothing, and does not spend it either.
        with httpx.Client(base_url=console.url, cookies=other.cookies()) as colleague:
            stolen = colleague.get(shown, headers=HTML)
            assert stolen.status_code == 200 and "new-key-value" not in stolen.text and "secret-gone" in stolen.text
        first = client.get(shown, headers=HTML)
        assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
        key = re.search(r'id="new-key-value">([^<]+)<', first.text)
        assert key is not None
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        assert console.stack.client.get("/v1/brands/me", headers=headers).status_code == 200
        again = client.get(shown, headers=HTML)  # the reload
        assert again.status_code == 200 and key.group(1) not in again.text and 'id="secret-gone"' in again.text
        assert again.text.count("data-key=") == before + 1  # the reload made no key
    (row,) = _reveal_rows(console, admin.staff_id)
    assert row.used_at is not None and row.challenge == ""  # spent, and the sealed copy is gone


def test_a_webhook_secret_is_shown_once_and_signs_the_deliveries(console: Console) -> None:
    operator = console.staff("aurele", StaffRole.operator)
    with httpx.Client(base_url=console.url, cookies=operator.cookies(), headers={"Origin": console.url}) as client:
        form = {"csrf": operator.csrf, "url": "http://127.0.0.1:9/once", "event_types": "minted"}
        made = client.post("/console/integrations/webhooks", data=form, headers=HTML)
        assert made.status_code == 303 and made.headers["location"].endswith("#webhooks")
        first = client.get(made.headers["location"], headers=HTML)
        secret = re.search(r'id="webhook-secret-value">([^<]+)<', first.text)
        assert secret is not None
        again = client.get(made.headers["location"], headers=HTML)
        assert secret.group(1) not in again.text and 'id="secret-gone"' in again.text
        assert again.text.count("http://127.0.0.1:9/once</code>") == 1  # one webhook, not two
    rt = console.stack.runtime
    with Session(rt.engine) as s:
        sub = s.exec(select(Subscription).where(Subscription.url == "http://127.0.0.1:9/once")).one()
        assert hooks.open_secret(server_key(rt.settings), sub) == secret.group(1)
        sub.active = False  # nothing is sent to port 9
        s.add(sub)
        s.commit()


def test_an_expired_secret_is_not_shown(console: Console) -> None:
    admin = console.staff("aurele", StaffRole.admin)
    with httpx.Client(base_url=console.url, cookies=admin.cookies(), headers={"Origin": console.url}) as client:
        made = client.post("/console/integrations/keys", data={"csrf": admin.csrf}, headers=HTML)
        with session_scope(console.stack.runtime.engine) as s:
            (row,) = s.exec(select(StaffChallenge).where(col(StaffChallenge.staff_id) == admin.staff_id))
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            s.add(row)
        late = client.get(made.headers["location"], headers=HTML)
        assert "new-key-value" not in late.text and 'id="secret-gone"' in late.text


def test_next_page_link_in_chinese(console: Console, seeded: Seeded, browser: Browser) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.analyst), "zh-CN")
    page.goto(f"{console.url}/console/minting?lang=zh-CN")
    assert page.get_attribute("html", "lang") == "zh-CN"
    first = page.eval_on_selector_all("tr[data-job]", "rows => rows.map(r => r.dataset.job)")
    page.get_by_role("link", name="下一页").click()
    page.wait_for_url("**cursor=**")
    second = page.eval_on_selector_all("tr[data-job]", "rows => rows.map(r => r.dataset.job)")
    assert first + second == seeded.jobs["aurele"][: 2 * JOBS_LISTED]
    assert page.get_attribute("html", "lang") == "zh-CN"  # the language stays (the cookie the switch set)
