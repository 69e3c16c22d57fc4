"""What the owners' Chromium test drives: a stack served on localhost (WebAuthn needs a domain) over
an Anvil of a given hardfork, with claimable twins, and the page's outcomes, passkeys and axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from registry.db.engine import session_scope
from registry.owners.models import OwnerPasskey
from tests.api.conftest import Stack, physical, running_stack, stack_settings
from tests.pages.conftest import AXE, serve_on


@dataclass
class Door:
    stack: Stack
    url: str
    collection: str
    secrets: dict[int, str]
    brand: dict[str, str]  # the brand's API key headers

    def page_url(self, token: int, suffix: str = "") -> str:
        return f"{self.url}/t/{self.collection}/{token}{suffix}"

    def owner_of(self, token: int) -> str:
        return str(self.stack.runtime.chain.collection(self.collection).functions.ownerOf(token).call())

    def passkeys(self) -> int:
        with session_scope(self.stack.runtime.engine) as s:
            return len(s.exec(OwnerPasskey.__table__.select()).all())  # type: ignore[attr-defined]


@contextmanager
def door_stack(tmp: Path, hardfork: str, twins: int) -> Iterator[Door]:
    anvil = Anvil(hardfork=hardfork)
    anvil.start()
    port = free_port()
    url = f"http://localhost:{port}"  # WebAuthn needs a domain for its RP id, never an IP address
    settings = stack_settings(tmp, anvil, public_url=url, public_rpc_url=anvil.url)
    with running_stack(settings, anvil) as stack, serve_on(create_app(runtime=stack.runtime), port):
        headers, collection = stack.new_brand("Maison Aurèle", "MAUR")
        made = [physical(f"D-{i}", code="376012345678") | {"claimable": True} for i in range(twins)]
        job = stack.wait_job(
            headers, stack.client.post("/v1/batches", json={"twins": made}, headers=headers).json()["id"]
        )
        rows = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=headers).json()["secrets"]
        by_serial = {row["serial"]: row["secret"] for row in rows}
        yield Door(stack, url, collection, {t["token_id"]: by_serial[t["serial"]] for t in job["twins"]}, headers)


def stored(door: Door, credential: dict[str, Any]) -> OwnerPasskey:
    with session_scope(door.stack.runtime.engine) as s:
        row = s.get(OwnerPasskey, credential["credentialId"].rstrip("=").replace("+", "-").replace("/", "_"))
        assert row is not None
        s.expunge(row)
        return row


def synced(door: Door, credential: dict[str, Any]) -> dict[str, Any]:
    """`credential` as a synced copy holds it now (its counter where the service last saw it)."""
    return credential | {"signCount": stored(door, credential).sign_count}


def outcome(page: Page, selector: str) -> str:
    """The outcome line's final state (`data-ok`), once the script settled it."""
    page.wait_for_function(
        f"() => ['true', 'false'].includes(document.querySelector('{selector}').dataset.ok)", timeout=30_000
    )
    return str(page.get_attribute(selector, "data-ok"))


def create_passkey(page: Page) -> str:
    """Creates a passkey on the page; the new account."""
    page.click("#passkey-create")
    assert outcome(page, "#door-result") == "true", page.inner_text("#door-result")
    return str(page.evaluate("JSON.parse(localStorage.getItem('twinmark.owner')).account"))


def axe_clean(page: Page) -> None:
    page.add_script_tag(path=str(AXE))  # injected: the page's CSP binds its own scripts, not the test's
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [
        (v["id"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], bad
    assert len(result["passes"]) > 10  # axe really ran
