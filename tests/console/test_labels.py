"""The Labels and NFC page in real Chromium: a job's labels downloaded (the API's own ZIP), the NTAG 424
master key set and never shown back, tags enrolled one by one and from a CSV of tag identities (every
row or none, errors by row), tag state listed; another brand's job and twin refused as not found; an
analyst refused; axe-core in both languages."""

from __future__ import annotations

import csv
import io
import zipfile

import httpx
import pytest
from playwright.sync_api import Browser
from sqlmodel import Session, select

from registry.nfc.models import NfcTag
from registry.staff.models import StaffRole
from tests.api.conftest import gtin
from tests.console.ops_support import (  # noqa: F401 - the fixtures
    LANGS,
    Console,
    audit,
    console_both_fixture,
    csv_of,
    fits_a_tablet,
    no_serious_violations,
)

MASTER_KEY = "00112233445566778899aabbccddeeff"
CODE = "600000000001"


@pytest.fixture(scope="module")
def job(console: Console) -> dict[str, object]:
    twins = [{"kind": "physical", "name": "Sac", "gtin": gtin(CODE), "serial": f"LB-{i}"} for i in range(4)]
    return console.mint("aurele", twins)


def tags_of(console: Console, brand: str) -> set[str]:
    with Session(console.stack.runtime.engine) as s:
        rows = s.exec(select(NfcTag).where(NfcTag.brand_id == console.brands[brand]["id"])).all()
        return {t.identity for t in rows}


def test_a_jobs_labels_download(console: Console, browser: Browser, job: dict[str, object]) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.operator))
    page.goto(f"{console.url}/console/labels")
    with page.expect_download() as download:
        page.click(f"#job-{job['id']} a[download]")
    with zipfile.ZipFile(download.value.path()) as archive:
        manifest = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        assert sorted(r["serial"] for r in manifest) == ["LB-0", "LB-1", "LB-2", "LB-3"]
        assert f"{gtin(CODE).zfill(14)}_LB-0.svg" in archive.namelist() or any(
            n.endswith("_LB-0.svg") for n in archive.namelist()
        )
    assert [o for o, _, _ in audit(console, "aurele", "labels.download")] == ["ok"]
    rival_job = console.mint("rival", [{"kind": "physical", "name": "Sac", "gtin": gtin(CODE), "serial": "RV-1"}])
    operator = console.staff("aurele", StaffRole.operator)
    with httpx.Client(base_url=console.url, cookies=operator.cookies()) as client:
        assert client.get(f"/console/labels/jobs/{rival_job['id']}/labels.zip").status_code == 404


def test_master_key_and_tags_one_by_one_and_by_csv(console: Console, browser: Browser, job: dict[str, object]) -> None:
    twins = job["twins"]
    assert isinstance(twins, list)
    page = console.page(browser, console.staff("aurele", StaffRole.operator))
    page.goto(f"{console.url}/console/labels")

    # No master key yet: an NTAG 424 cannot be enrolled.
    page.fill("#tag-token", str(twins[0]["token_id"]))
    page.fill("#tag-uid", "04A1B2C3D4E5F6")
    page.click("#tag-form button[type=submit]")
    assert "master key" in page.text_content("#tag-error")

    page.fill("#master-key", MASTER_KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_url("**/console/labels?done=master-key")
    assert MASTER_KEY not in page.content().lower()  # never shown back
    assert [d for _, _, d in audit(console, "aurele", "nfc.master-key")] == ["set"]

    page.fill("#tag-token", str(twins[0]["token_id"]))
    page.fill("#tag-uid", "04A1B2C3D4E5F6")
    page.click("#tag-form button[type=submit]")
    page.wait_for_selector("#enrolled")
    row = "tr[data-tag='04A1B2C3D4E5F6']"
    assert page.text_content(f"{row} td:nth-child(5)") in ("never", "从未")  # never tapped yet

    # A sheet with bad rows enrols nothing, not even its good row.
    rival = console.mint("rival", [{"kind": "physical", "name": "Sac", "gtin": gtin(CODE), "serial": "RV-2"}])
    bad = csv_of(
        [
            {"token_id": str(twins[1]["token_id"]), "uid": "04000000000001"},  # row 2: fine on its own
            {"token_id": str(twins[2]["token_id"]), "uid": "04A1"},  # row 3: too short
            {"token_id": str(twins[3]["token_id"]), "uid": "04A1B2C3D4E5F6"},  # row 4: already enrolled
            {"token_id": str(rival["twins"][0]["token_id"]), "uid": "04000000000002"},  # row 5: rival's twin
            {"gtin": gtin(CODE), "serial": "NOPE", "uid": "04000000000003"},  # row 6: no such twin
        ]
    )
    page.set_input_files("#tags-csv", files=[{"name": "tags.csv", "mimeType": "text/csv", "buffer": bad}])
    page.click("#tags-csv-form button[type=submit]")
    page.wait_for_selector("#tag-row-errors")
    rows = page.eval_on_selector_all("#tag-row-errors tr.row-error", "rs => rs.map(r => Number(r.dataset.row))")
    assert sorted(rows) == [3, 4, 5, 6]
    assert tags_of(console, "aurele") == {"04A1B2C3D4E5F6"}

    good = csv_of(
        [
            {"token_id": str(twins[1]["token_id"]), "uid": "04000000000011"},
            {"gtin": gtin(CODE), "serial": "LB-2", "uid": "04000000000012"},
        ]
    )
    page.set_input_files("#tags-csv", files=[{"name": "tags.csv", "mimeType": "text/csv", "buffer": good}])
    page.click("#tags-csv-form button[type=submit]")
    page.wait_for_selector("#enrolled")
    assert tags_of(console, "aurele") == {"04A1B2C3D4E5F6", "04000000000011", "04000000000012"}
    listed = page.eval_on_selector_all("#tag-list tr[data-tag]", "rs => rs.map(r => r.dataset.tag)")
    assert set(listed) == tags_of(console, "aurele")
    assert tags_of(console, "rival") == set()
    assert sorted(audit(console, "aurele", "nfc.enrol-csv")) == [
        ("failed", "operator of aurele", "CSV refused: 4 row errors"),
        ("ok", "operator of aurele", "2 tags"),
    ]


def test_an_analyst_reads_but_cannot_enrol(console: Console, job: dict[str, object]) -> None:
    analyst = console.staff("aurele", StaffRole.analyst)
    with httpx.Client(base_url=console.url, cookies=analyst.cookies(), headers={"Origin": console.url}) as client:
        page = client.get("/console/labels")
        assert page.status_code == 200 and 'id="tag-form"' not in page.text and 'id="key-form"' not in page.text
        assert (
            client.post("/console/labels/master-key", data={"csrf": analyst.csrf, "key": "00" * 16}).status_code == 403
        )
        assert client.get(f"/console/labels/jobs/{job['id']}/labels.zip").status_code == 403
    assert ("refused", "analyst of aurele", "needs operator") in audit(
        console, "aurele", "POST /console/labels/master-key"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_labels_page_in_both_languages_passes_axe(
    console: Console, browser: Browser, lang: str, job: dict[str, object]
) -> None:
    page = console.page(browser, console.staff("aurele", StaffRole.operator), lang, bypass_csp=True)
    page.goto(f"{console.url}/console/labels?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    assert page.text_content("h1") == ("Labels and NFC" if lang == "en" else "标签与 NFC")
    no_serious_violations(page)
    fits_a_tablet(page)
