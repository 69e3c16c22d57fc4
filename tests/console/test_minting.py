"""The Minting page in real Chromium: a 2,000-twin CSV minted with the progress bar (fed by server-sent
events) reaching 100 %, a CSV with bad rows refused row by row with nothing minted, a double submit
answered with one job, a GLB through the glTF validator with its platform profiles, one twin by form;
the events stream itself (reconnect, end, another brand's job); axe-core in both languages."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlmodel import Session, col, func, select

from registry.jobs.models import Identifier, Job
from registry.staff.models import StaffRole
from tests.api.conftest import glb, gtin
from tests.console.ops_support import (  # noqa: F401 - the fixtures
    LANGS,
    Console,
    audit,
    bag,
    console_both_fixture,
    csv_of,
    fits_a_tablet,
    no_serious_violations,
)


def jobs_of(console: Console, brand: str) -> int:
    query = select(func.count()).select_from(Job).where(Job.brand_id == console.brands[brand]["id"])
    with Session(console.stack.runtime.engine) as s:
        return int(s.exec(query).one())


def one(code: str, serial: str) -> dict[str, str]:
    return {"kind": "physical", "name": "Sac", "gtin": gtin(code), "serial": serial}


def upload_csv(page: Page, data: bytes) -> None:
    page.set_input_files("#csv-file", files=[{"name": "twins.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("#csv-form button[type=submit]")


def test_csv_of_2000_twins_mints_with_the_progress_bar_reaching_100(console: Console, browser: Browser) -> None:
    operator = console.staff("aurele", StaffRole.operator)
    page = console.page(browser, operator)
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if r.url.endswith("/events") else None)
    page.goto(f"{console.url}/console/minting")
    before = jobs_of(console, "aurele")
    upload_csv(page, csv_of([bag(f"BIG-{i:05d}", "300000000001") for i in range(2000)]))
    page.wait_for_url("**/console/minting/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]
    page.wait_for_function(
        "() => { const b = document.getElementById('job-progress');"
        " return b.value === 100 && b.getAttribute('aria-valuenow') === '100'"
        " && document.getElementById('job-state').dataset.state === 'completed'; }",
        timeout=120_000,
    )
    assert streams and streams[0].endswith(f"/console/api/jobs/{job_id}/events")  # the bar was fed by SSE
    job = console.stack.client.get(f"/v1/jobs/{job_id}", params={"limit": 1}, headers=console.headers("aurele")).json()
    assert job["state"] == "completed" and job["counts"] == {"requested": 2000, "recorded": 2000}
    assert len(job["batches"]) == 4  # chunk_size 500 in this stack
    assert jobs_of(console, "aurele") == before + 1
    assert ("ok", "operator of aurele", "2000 twins") in audit(console, "aurele", "job.submit")
    assert "2,000" in page.text_content("#job-count")  # formatted for the page's locale


def test_csv_with_bad_rows_shows_each_row_error_and_mints_nothing(console: Console, browser: Browser) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.operator))
    page.goto(f"{console.url}/console/minting")
    good = bag("ROW-OK-1", "300000000002")
    rows = [
        good,  # row 2
        bag("ROW-OK-2", "300000000002") | {"gtin": "4006381333932"},  # row 3: wrong check digit
        bag("ROW-OK-3", "300000000002") | {"serial": ""},  # row 4: serial missing
        bag("ROW-OK-4", "300000000002") | {"materials": "Calfskin:lots"},  # row 5: not a number
        bag("ROW-OK-1", "300000000002"),  # row 6: repeats row 2
        bag("ROW-OK-5", "300000000002") | {"origin_country": "France"},  # row 7: not ISO alpha-2
    ]
    before = jobs_of(console, "aurele")
    upload_csv(page, csv_of(rows))
    page.wait_for_selector("#row-errors")
    found = page.eval_on_selector_all(
        "#row-errors tr.row-error", "rows => rows.map(r => [Number(r.dataset.row), r.dataset.column])"
    )
    assert [2, "serial"] in found and [6, "serial"] in found  # the repeated pair, on both rows
    assert [3, "gtin"] in found and [4, "serial"] in found and [5, "materials"] in found
    assert [7, "origin_country"] in found
    assert "check digit" in page.text_content("#row-errors")
    assert jobs_of(console, "aurele") == before
    with Session(console.stack.runtime.engine) as s:
        assert s.exec(select(Identifier).where(col(Identifier.serial).like("ROW-OK-%"))).all() == []
    assert any(o == "failed" and "row errors" in (d or "") for o, _, d in audit(console, "aurele", "job.submit"))


def test_a_serial_already_minted_is_a_row_error(console: Console, browser: Browser) -> None:
    console.mint("aurele", [one("300000000003", "TAKEN-1")])
    page = console.page(browser, console.staff("aurele", StaffRole.operator))
    page.goto(f"{console.url}/console/minting")
    upload_csv(page, csv_of([bag("FREE-1", "300000000003"), bag("TAKEN-1", "300000000003")]))
    page.wait_for_selector("#row-errors")
    found = page.eval_on_selector_all("#row-errors tr.row-error", "rows => rows.map(r => Number(r.dataset.row))")
    assert found == [3]


def test_a_double_submit_yields_one_job(console: Console, browser: Browser) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.operator))
    page.goto(f"{console.url}/console/minting")
    page.set_input_files(
        "#csv-file",
        files=[{"name": "t.csv", "mimeType": "text/csv", "buffer": csv_of([bag("DBL-1", "300000000004")])}],
    )
    before = jobs_of(console, "aurele")
    # The same rendered form sent several times at once (a double click, a retrying proxy), then once
    # more (a re-POST).
    urls = page.evaluate(
        """async () => {
            const form = document.getElementById('csv-form');
            const send = () => fetch(form.action, {method: 'POST', body: new FormData(form)})
                .then(async r => r.redirected ? r.url : r.status + ' ' + (await r.text()).slice(-600));
            const all = await Promise.all([send(), send(), send(), send(), send(), send()]);
            return [...all, await send()];
        }"""
    )
    assert len(set(urls)) == 1 and "/console/minting/jobs/" in urls[0], urls
    assert jobs_of(console, "aurele") == before + 1
    # A fresh form render draws a new key: the same file again is then refused (already minted or in flight).
    page.goto(f"{console.url}/console/minting")
    upload_csv(page, csv_of([bag("DBL-1", "300000000004")]))
    page.wait_for_selector("#row-errors")
    assert jobs_of(console, "aurele") == before + 1


def test_asset_upload_shows_the_validator_and_profiles_then_one_twin_is_minted(
    console: Console, browser: Browser
) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.operator))
    page.goto(f"{console.url}/console/minting")
    page.set_input_files("#asset-file", files=[{"name": "m.glb", "mimeType": "model/gltf-binary", "buffer": glb()}])
    page.click("#asset-form button[type=submit]")
    page.wait_for_selector("#asset-result")
    assert "glTF" in page.text_content("#asset-result")
    profiles = page.eval_on_selector_all(
        "#profiles tr[data-profile]", "rows => rows.map(r => [r.dataset.profile, r.dataset.met])"
    )
    assert {name for name, _ in profiles} == {"decentraland", "roblox-layered-clothing"}
    assert ["decentraland", "false"] in profiles  # no category given: Decentraland's rule is missed, and said
    assert "category" in page.text_content("#profiles tr[data-profile=decentraland]")

    broken = {"name": "bad.glb", "mimeType": "model/gltf-binary", "buffer": b"glTF" + b"\0" * 30}
    page.set_input_files("#asset-file", files=[broken])
    page.click("#asset-form button[type=submit]")
    page.wait_for_selector("#asset-error")

    page.fill("#t-name", "Sac solo")
    page.fill("#t-gtin", gtin("300000000005"))
    page.fill("#t-serial", "SOLO-1")
    page.click("#twin-form button[type=submit]")
    page.wait_for_url("**/console/minting/jobs/*")
    page.wait_for_function("() => document.getElementById('job-state').dataset.state === 'completed'", timeout=60_000)

    page.goto(f"{console.url}/console/minting")  # the same twin again, from a fresh form: refused
    page.fill("#t-name", "Sac solo")
    page.fill("#t-gtin", gtin("300000000005"))
    page.fill("#t-serial", "SOLO-1")
    page.click("#twin-form button[type=submit]")
    page.wait_for_selector("#twin-form ~ p.problem")
    assert "already have a twin" in page.text_content("#twin-form ~ p.problem")
    assert ("failed", "operator of aurele", "conflict") in audit(console, "aurele", "job.submit")

    page.fill("#t-name", "Sac solo")
    page.fill("#t-gtin", "123")
    page.fill("#t-serial", "SOLO-2")
    page.click("#twin-form button[type=submit]")
    page.wait_for_selector("#twin-errors")
    assert "gtin" in page.text_content("#twin-errors")


def test_the_events_stream(console: Console) -> None:
    job = console.mint("aurele", [one("300000000006", "EV-1")])
    rival_job = console.mint("rival", [one("300000000007", "EV-2")])
    analyst = console.staff("aurele", StaffRole.analyst)
    with httpx.Client(base_url=console.url, cookies=analyst.cookies(), timeout=10) as client:
        for headers in ({}, {"Last-Event-ID": "0-accepted"}):  # a reconnect re-sends the current state
            with client.stream("GET", f"/console/api/jobs/{job['id']}/events", headers=headers) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                body = r.read().decode()  # ends by itself: the job is complete
            assert "event: progress" in body and "event: end" in body
            assert '"percent":100' in body and '"state":"completed"' in body and "id: 1-completed" in body
        r = client.get(f"/console/api/jobs/{rival_job['id']}/events")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        r = client.get(f"/console/minting/jobs/{rival_job['id']}")
        assert r.status_code == 404
    assert httpx.get(f"{console.url}/console/api/jobs/{job['id']}/events").status_code == 401


def test_an_analyst_reads_but_cannot_mint(console: Console) -> None:
    analyst = console.staff("aurele", StaffRole.analyst)
    with httpx.Client(base_url=console.url, cookies=analyst.cookies(), timeout=10) as client:
        page = client.get("/console/minting")
        assert page.status_code == 200 and 'id="csv-form"' not in page.text
        r = client.post(
            "/console/minting/batches",
            files={"csv": ("t.csv", csv_of([bag("AN-1", "300000000008")]), "text/csv")},
            data={"csrf": analyst.csrf},
            headers={"Origin": console.url},
        )
        assert r.status_code == 403
    refusals = audit(console, "aurele", "POST /console/minting/batches")
    assert ("refused", "analyst of aurele", "needs operator") in refusals


@pytest.mark.parametrize("lang", LANGS)
def test_minting_pages_in_both_languages_pass_axe(console: Console, browser: Browser, lang: str) -> None:
    job = console.mint("aurele", [one("300000000009", f"AX-{lang}")])
    page = console.page(browser, console.staff("aurele", StaffRole.operator), lang, bypass_csp=True)
    page.goto(f"{console.url}/console/minting?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    assert page.text_content("h1") == ("Minting" if lang == "en" else "铸造")
    no_serious_violations(page)
    fits_a_tablet(page)
    page.goto(f"{console.url}/console/minting/jobs/{job['id']}?lang={lang}")
    page.wait_for_function("() => document.getElementById('job-progress').value === 100")
    no_serious_violations(page)
    fits_a_tablet(page)


def test_a_stream_ends_after_its_lifetime_and_a_reconnect_sends_the_current_state(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.console import minting

    monkeypatch.setattr(minting, "STREAM_SECONDS", 1.0)
    with Session(console.stack.runtime.engine) as s:  # a job in progress (no chunks: the worker leaves it)
        job = Job(id="job-in-flight", brand_id=console.brands["aurele"]["id"], request_hash="x", kind="batch")
        job.state, job.total, job.recorded = "running", 8, 2
        s.add(job)
        s.commit()
    analyst = console.staff("aurele", StaffRole.analyst)
    with httpx.Client(base_url=console.url, cookies=analyst.cookies(), timeout=10) as client:
        started = time.monotonic()
        with client.stream("GET", "/console/api/jobs/job-in-flight/events") as r:
            body = r.read().decode()
        assert time.monotonic() - started < 5  # bounded: the server closed it
        assert body.count("event: progress") == 1 and "event: end" not in body and '"percent":25' in body
        with Session(console.stack.runtime.engine) as s:
            stored = s.get(Job, "job-in-flight")
            assert stored is not None
            stored.state, stored.recorded = "completed", 8
            s.commit()
        with client.stream(
            "GET", "/console/api/jobs/job-in-flight/events", headers={"Last-Event-ID": "2-running"}
        ) as r:
            body = r.read().decode()
        assert "id: 8-completed" in body and "event: end" in body and '"percent":100' in body
