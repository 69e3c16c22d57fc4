"""A seeded brand for the console's Overview, Twins and Alerts tests in real Chromium: a real stack
(Anvil, SQLite, the runtime's own scan recorder and alert worker) served by uvicorn behind loopback
as the trusted proxy, two brands with twins, scans recorded through the real routes from networks
in several countries (and a month of back-dated history, rolled up), and on each brand a cloned HaLo
tap (a replayed tap from a second network) that the alert worker raises as an `nfc-counter` alert.
Imported by each test module (one stack per module; files stay independent under xdist)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlmodel import select

from api.main import create_app
from registry.alerts.worker import AlertWorker
from registry.brands.models import Collection
from registry.chain.anvil import Anvil, free_port
from registry.db.engine import session_scope
from registry.nfc.service import enrol_challenge
from registry.scans.models import Scan
from registry.scans.service import roll_up
from registry.staff.models import StaffRole
from tests.api.conftest import Stack, physical, running_stack, stack_settings
from tests.nfc.simulator import HaloChip
from tests.pages.conftest import AXE
from tests.support.console import SignedIn, sign_in
from tests.support.server import serve
from tests.support.site import BROWSER, HTML, mint

# Networks iptocc places in these countries (its offline RIR files): the overview's "where".
NETWORKS = {"FR": "90.84.0.10", "CN": "202.96.134.133", "JP": "1.0.16.1", "US": "8.8.8.8", "GB": "81.2.69.160"}
CLONE_IP = "2001:db8:77::9"
LANGS = ("en", "zh-CN")


@dataclass
class ConsoleSite:
    stack: Stack
    url: str
    a: dict[str, str]
    b: dict[str, str]
    a_brand: str
    b_brand: str
    collection: str
    b_collection: str
    twins: list[dict[str, Any]]
    b_token: int
    chip: HaloChip
    b_chip: HaloChip
    alert: int = 0
    b_alert: int = 0
    staff: dict[tuple[str, StaffRole], SignedIn] = field(default_factory=dict)

    def browser_client(self, ip: str, **headers: str) -> httpx.Client:
        sent = {"User-Agent": BROWSER, "Accept": HTML, "X-Forwarded-For": ip} | headers
        return httpx.Client(base_url=self.url, headers=sent, timeout=30)

    def member(self, brand: str, role: StaffRole) -> SignedIn:
        """A signed-in member of `brand` with `role` (one per brand and role)."""
        key = (brand, role)
        if key not in self.staff:
            rt = self.stack.runtime
            self.staff[key] = sign_in(rt.engine, rt.settings, brand, role, name=f"{role.value.title()} Tester")
        return self.staff[key]

    def http(self, signed: SignedIn) -> httpx.Client:
        """The console over plain HTTP with the member's cookie (for requests a page would not send)."""
        return httpx.Client(base_url=self.url, cookies=signed.cookies(), timeout=30, follow_redirects=False)

    def settle(self) -> None:
        """Every scan so far stored and run through the rules by the runtime's own alert worker."""
        recorder = self.stack.runtime.scans
        assert recorder.flush(10)
        workers = [w for w in (getattr(f, "__self__", None) for f in recorder._listeners) if isinstance(w, AlertWorker)]
        assert len(workers) == 1 and workers[0].flush(10)

    def open_alerts(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/v1/alerts", params={"state": "open"}, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        return list(r.json()["alerts"])


def _brand_of(stack: Stack, collection: str) -> str:
    with session_scope(stack.runtime.engine) as s:
        return s.exec(select(Collection.brand_id).where(Collection.address == collection)).one()


def _enrol(stack: Stack, headers: dict[str, str], collection: str, token: int) -> HaloChip:
    chip = HaloChip()
    challenge = enrol_challenge(stack.runtime.chain.chain_id, collection, token)
    body = {"type": "halo", "address": chip.address, "signature": chip.sign_challenge(challenge.hex())}
    r = stack.client.post(f"/v1/twins/{collection}/{token}/nfc-tags", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return chip


def clone_tap(site: ConsoleSite, collection: str, token: int, chip: HaloChip) -> None:
    """One genuine tap read off the tag by someone else, then replayed from another network."""
    copied = chip.tap()
    with site.browser_client(NETWORKS["FR"]) as phone:
        assert phone.get(f"/t/{collection}/{token}", params=copied).status_code == 303
    with site.browser_client(CLONE_IP) as clone:
        r = clone.get(f"/t/{collection}/{token}", params=copied, follow_redirects=True)
        assert 'data-fresh="false"' in r.text


def history(site: ConsoleSite, days: int) -> None:
    """The brand's past `days` days, so the charts have a shape: back-dated scans (the routes only
    record now) with a weekly rhythm, rolled up by the scan log's own `roll_up` as each night would.
    Written straight to the log, so the alert worker never sees them (no alert from history)."""
    weights = (("FR", 6), ("CN", 5), ("JP", 3), ("US", 2), ("GB", 1), (None, 1))
    channels = ("resolver", "resolver", "page", "page", "tap", "verify")
    now = datetime.now(UTC)
    with session_scope(site.stack.runtime.engine) as s:
        for back in range(1, days + 1):
            at = datetime.combine((now - timedelta(days=back)).date(), datetime.min.time(), tzinfo=UTC)
            busy = 3 + (days - back) // 4 + (4 if at.weekday() >= 5 else 0)  # growing, busier at weekends
            n = 0
            for country, weight in weights:
                for _ in range(busy * weight // 3):
                    twin = site.twins[n % len(site.twins)]
                    channel = channels[(n + back) % len(channels)]
                    s.add(
                        Scan(
                            at=at + timedelta(minutes=7 * n + 3),
                            brand_id=site.a_brand,
                            collection=site.collection,
                            token_id=twin["token_id"],
                            channel=channel,
                            arrival="qr" if channel == "page" else None,
                            country=country,
                            session=f"history-{back}-{n % (busy + 1)}",
                            agent="ios",
                        )
                    )
                    n += 1
    roll_up(site.stack.runtime.engine)


def _raised(site: ConsoleSite, headers: dict[str, str]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        site.settle()
        alerts = site.open_alerts(headers)
        if any(a["rule"] == "nfc-counter" for a in alerts):
            assert [a["rule"] for a in alerts] == ["nfc-counter"], alerts
            return int(alerts[0]["id"])
        time.sleep(0.1)
    raise AssertionError("no alert raised")


@pytest.fixture(scope="module", name="site")
def console_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    tmp = tmp_path_factory.mktemp("console-pages")
    anvil = Anvil()
    anvil.start()
    port = free_port()
    settings = stack_settings(tmp, anvil, public_url=f"http://127.0.0.1:{port}", trusted_proxies="127.0.0.1")
    with running_stack(settings, anvil) as stack, serve(create_app(runtime=stack.runtime), port, settings) as url:
        a, collection = stack.new_brand("Maison Aurèle", "MAUR")
        b, b_collection = stack.new_brand("Other House", "OTHC")
        twins = mint(stack, a, [physical(f"AUR-{i:03d}") for i in range(6)])
        b_token = mint(stack, b, [physical("OTH-001", code="400638133394")])[0]["token_id"]
        chip = _enrol(stack, a, collection, twins[0]["token_id"])
        b_chip = _enrol(stack, b, b_collection, b_token)
        running = ConsoleSite(
            stack,
            url,
            a,
            b,
            _brand_of(stack, collection),
            _brand_of(stack, b_collection),
            collection,
            b_collection,
            twins,
            b_token,
            chip,
            b_chip,
        )
        # Buyers in five countries (5, 4, 3, 2, 1 scans) scan the labels' QR codes of twins 1-5, two
        # networks a twin (the copied-label rule wants more), and verify twin 0; its tag's one tap is
        # copied and replayed from a sixth network: the alert every test works with.
        for i, ip in enumerate(NETWORKS.values()):
            with running.browser_client(ip) as phone:
                for n in range(5 - i):
                    token = twins[1 + (i + n % 2) % 5]["token_id"]
                    assert phone.get(f"/t/{collection}/{token}", params={"src": "qr"}).status_code == 200
                assert phone.get(f"/v1/verify/{collection}/{twins[0]['token_id']}").status_code == 200
        clone_tap(running, collection, twins[0]["token_id"], chip)
        clone_tap(running, b_collection, b_token, b_chip)
        history(running, days=29)
        running.alert, running.b_alert = _raised(running, a), _raised(running, b)
        yield running


def console_page(browser: Browser, site: ConsoleSite, signed: SignedIn, lang: str, *, axe: bool = False) -> Page:
    """A new browser context signed in as `signed`, in `lang`, at 1280x800. With `axe`, the page's CSP
    is bypassed so that axe-core can be injected; without, every CSP violation is collected in
    `page.csp_errors` (the console's pages run no inline script or style)."""
    ctx = browser.new_context(locale=lang, viewport={"width": 1280, "height": 800}, bypass_csp=axe)
    ctx.add_cookies([{"name": signed.cookie_name, "value": signed.cookie, "url": site.url}])
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.csp_errors = errors  # type: ignore[attr-defined]
    return page


def axe_serious(page: Page) -> list[tuple[str, str, list[Any]]]:
    """axe-core's serious and critical violations on the page (injected by Playwright, past the CSP)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert result["testEngine"]["name"] == "axe-core" and len(result["passes"]) > 10  # axe really ran
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def fits_tablet(page: Page) -> bool:
    """At a tablet's width (768 px) the page needs no sideways scrolling."""
    page.set_viewport_size({"width": 768, "height": 1024})
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))
