"""The issue's "Done means" in real Chromium with virtual authenticators, on one stack (Anvil under
Osaka: passkey transfers take the collection's ERC-1271 path): buyer A, with no wallet, creates a
passkey, claims a twin to the passkey account and sees it as theirs; A resells it to buyer B (another
browser with its own passkey) by a passkey-signed transfer the service relays; B sees it as theirs and
A no longer. Also: a page whose server proposes another transfer gets nothing signed; an
authenticator that does not verify its user is refused; a passkey synced to a third browser signs
in; axe-core on the owner's views in both languages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from registry.db.engine import session_scope
from registry.owners.models import OwnerPasskey
from tests.api.conftest import Stack, physical, running_stack, stack_settings
from tests.pages.conftest import AXE, serve_on
from tests.support.virtual_authenticator import Authenticator, add_authenticator, with_authenticator


@dataclass
class Door:
    stack: Stack
    url: str
    collection: str
    secrets: dict[int, str]

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
        yield Door(stack, url, collection, {t["token_id"]: by_serial[t["serial"]] for t in job["twins"]})


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with door_stack(tmp_path_factory.mktemp("owners-door"), "osaka", 2) as running:
        yield running


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


@dataclass
class Buyer:
    context: BrowserContext
    page: Page
    authenticator: Authenticator
    account: str = ""


@pytest.fixture(scope="module")
def sold(door: Door, browser: Browser) -> Iterator[dict[str, Any]]:
    """A claims the first twin to a new passkey account and resells it to B's passkey account."""
    token = sorted(door.secrets)[0]
    a = Buyer(*with_authenticator(browser))
    a.page.goto(door.page_url(token, f"#claim={door.secrets[token]}"))
    assert a.page.is_hidden("#claim-passkey")  # nothing to claim to before a passkey exists
    a.account = create_passkey(a.page)
    a.page.click("#claim-passkey")
    assert a.page.input_value("#claim-recipient") == a.account
    a.page.click("#claim-form button[type=submit]")
    assert outcome(a.page, "#claim-result") == "true", a.page.inner_text("#claim-result")
    assert door.owner_of(token) == a.account
    a.page.reload()
    assert a.page.is_visible("#door-yours") and a.page.is_visible("#give-form")

    b = Buyer(*with_authenticator(browser))
    b.page.goto(door.page_url(token))
    b.account = create_passkey(b.page)
    assert b.account != a.account and b.page.is_hidden("#door-yours") and b.page.is_hidden("#give-form")
    yield {"token": token, "a": a, "b": b}
    a.context.close()
    b.context.close()


def test_a_server_proposing_another_transfer_gets_nothing_signed(door: Door, sold: dict[str, Any]) -> None:
    a, b, token = sold["a"], sold["b"], sold["token"]
    attacker = "0x000000000000000000000000000000000000dEaD"
    chain = door.stack.runtime.chain

    def lying(route: Any) -> None:
        answer = route.fetch().json()
        other = chain.passkey_transfer_digest(
            door.collection, token, answer["account"], attacker, answer["nonce"], answer["deadline"]
        )
        route.fulfill(json=answer | {"challenge": "0x" + other.digest.hex()})

    before = a.authenticator.credentials()[0]["signCount"]
    a.page.route("**/transfers/passkey?*", lying)
    a.page.fill("#give-to", b.account)
    a.page.click("#give-form button[type=submit]")
    assert outcome(a.page, "#give-result") == "false"
    assert "Nothing was signed" in a.page.inner_text("#give-result")
    assert a.authenticator.credentials()[0]["signCount"] == before  # the passkey was never asked
    a.page.unroute("**/transfers/passkey?*")
    assert door.owner_of(token) == a.account


def test_a_resells_to_b_by_passkey_and_b_sees_it_as_theirs(door: Door, sold: dict[str, Any]) -> None:
    a, b, token = sold["a"], sold["b"], sold["token"]
    a.page.reload()
    a.page.fill("#give-to", b.account)
    a.page.click("#give-form button[type=submit]")
    assert outcome(a.page, "#give-result") == "true", a.page.inner_text("#give-result")
    assert door.owner_of(token) == b.account
    assert door.stack.runtime.chain.account_deployed(a.account)  # deployed by its first action
    assert a.page.is_hidden("#door-yours")  # the page updated its owner: no longer A's
    a.page.reload()
    assert a.page.is_hidden("#door-yours") and a.page.is_hidden("#give-form")
    assert "does not own this item" in a.page.inner_text("#door-account")
    b.page.reload()
    assert b.page.is_visible("#door-yours") and b.page.is_visible("#give-form")

    # B's "my items" lists it once the index has the transfer.
    deadline = time.monotonic() + 20
    while True:
        b.page.goto(f"{door.url}/owners/me")
        b.page.wait_for_function("() => document.getElementById('my-note').textContent.includes('0x')")
        if b.page.locator(f"#my-items a[data-token='{token}']").count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert b.page.locator(f"#my-items a[data-token='{token}']").count() == 1


def test_a_server_naming_another_account_at_registration_is_refused(door: Door, browser: Browser) -> None:
    """Claims go to the account the page holds: it must be the passkey's own, whatever the server says."""
    ctx, page, _ = with_authenticator(browser)
    page.route("**/v1/owners/passkeys", lambda route: route.fulfill(json=route.fetch().json() | {"account": ZERO}))
    page.goto(door.page_url(sorted(door.secrets)[1]))
    page.click("#passkey-create")
    assert outcome(page, "#door-result") == "false"
    assert "another account" in page.inner_text("#door-result")
    assert page.evaluate("localStorage.getItem('twinmark.owner')") is None
    ctx.close()


ZERO = "0x" + "00" * 20


def test_an_authenticator_that_does_not_verify_its_user_is_refused(door: Door, browser: Browser) -> None:
    ctx, page, _ = with_authenticator(browser, user_verified=False)
    before = door.passkeys()
    page.goto(door.page_url(sorted(door.secrets)[1]))
    page.click("#passkey-create")
    assert outcome(page, "#door-result") == "false"
    assert page.evaluate("localStorage.getItem('twinmark.owner')") is None
    assert door.passkeys() == before
    ctx.close()


def test_a_passkey_synced_to_another_browser_signs_in(door: Door, browser: Browser, sold: dict[str, Any]) -> None:
    b = sold["b"]
    ctx, page, auth = with_authenticator(browser)
    (credential,) = b.authenticator.credentials()
    auth.add(credential)  # what iCloud Keychain or Google Password Manager does
    page.goto(door.page_url(sold["token"]))
    page.click("#passkey-sign-in")
    assert outcome(page, "#door-result") == "true", page.inner_text("#door-result")
    assert b.account in page.inner_text("#door-account")
    assert page.is_visible("#door-yours")
    ctx.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_owners_views_have_no_serious_accessibility_violations(
    door: Door, browser: Browser, sold: dict[str, Any], lang: str
) -> None:
    # axe is injected as a script: the page's CSP (script-src 'self') is bypassed for the test only.
    ctx, page, auth = with_authenticator(browser, bypass_csp=True)
    auth.add(synced(door, sold["b"].authenticator.credentials()[0]))  # an earlier test used a copy
    page.goto(door.page_url(sold["token"], f"?lang={lang}"))
    page.click("#passkey-sign-in")
    assert outcome(page, "#door-result") == "true", page.inner_text("#door-result")
    assert page.is_visible("#door-owner")  # the owner's forms are shown, and checked
    page.click("#door-lost-all summary")
    axe_clean(page)
    page.goto(f"{door.url}/owners/me?lang={lang}")
    page.wait_for_function("() => document.getElementById('my-note').textContent.includes('0x')")
    axe_clean(page)
    ctx.close()


def test_the_owner_adds_a_device_signed_by_the_first_passkey(
    door: Door, browser: Browser, sold: dict[str, Any]
) -> None:
    """B's new laptop gets a passkey; B's phone signs `addSigners` for it (the page recomputes the
    account's Execute digest). Chromium's virtual authenticators answer whichever is present, so the
    phone steps away for the creation and comes back for the signature."""
    b = sold["b"]
    ctx, page, phone = with_authenticator(browser)
    phone.add(synced(door, b.authenticator.credentials()[0]))
    page.goto(door.page_url(sold["token"]))
    page.click("#passkey-sign-in")
    assert outcome(page, "#door-result") == "true", page.inner_text("#door-result")
    (kept,) = phone.credentials()
    phone.remove()
    laptop = add_authenticator(phone.cdp)
    made: list[dict[str, Any]] = []

    def phone_back(route: Any) -> None:
        if route.request.method == "POST" and not made:
            made.extend(laptop.credentials())
            laptop.remove()
            add_authenticator(phone.cdp).add(kept)
        route.continue_()

    page.route("**/v1/owners/me/passkeys", phone_back)
    page.click("#device-add")
    assert outcome(page, "#device-result") == "true", page.inner_text("#device-result")
    (new,) = made
    row = stored(door, new)
    assert row.account == b.account
    chain = door.stack.runtime.chain
    assert chain.account_has_signer(b.account, bytes.fromhex(row.qx), bytes.fromhex(row.qy))
    ctx.close()


@pytest.fixture(scope="module")
def door_prague(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with door_stack(tmp_path_factory.mktemp("owners-door-prague"), "prague", 1) as running:
        yield running


def test_without_the_precompile_the_account_itself_transfers(door_prague: Door, browser: Browser) -> None:
    """Path B (P-256 in Solidity, over the collection's ERC-1271 stipend): the passkey signs the
    account's own Execute of `transferFrom`, which the page builds and hashes itself."""
    door = door_prague
    assert not door.stack.runtime.chain.p256_native
    (token,) = door.secrets
    ctx, page, _ = with_authenticator(browser)
    page.goto(door.page_url(token, f"#claim={door.secrets[token]}"))
    account = create_passkey(page)
    page.click("#claim-passkey")
    page.click("#claim-form button[type=submit]")
    assert outcome(page, "#claim-result") == "true", page.inner_text("#claim-result")
    buyer = "0x00000000000000000000000000000000000b0b0b"
    page.reload()
    page.fill("#give-to", buyer)
    page.click("#give-form button[type=submit]")
    assert outcome(page, "#give-result") == "true", page.inner_text("#give-result")
    assert door.owner_of(token).lower() == buyer.lower() and account != buyer
    ctx.close()
