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
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.owners.browser import Door, axe_clean, create_passkey, door_stack, outcome, stored, synced
from tests.support.virtual_authenticator import Authenticator, add_authenticator, with_authenticator


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with door_stack(tmp_path_factory.mktemp("owners-door"), "osaka", 2) as running:
        yield running


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
    account's Execute digest), then `removeSigners` of it. Chromium's virtual authenticators answer
    whichever is present, so the phone steps away for the creation and comes back for the signatures."""
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

    # Listed beside the phone's; the phone now removes it again (`removeSigners`, recomputed too).
    assert page.locator("#devices li").count() == 2
    page.click(f"#devices li[data-credential='{row.credential_id}'] button")
    page.wait_for_function("() => document.querySelectorAll('#devices li').length === 1", timeout=30_000)
    assert outcome(page, "#device-result") == "true" and "Removed" in page.inner_text("#device-result")
    assert not chain.account_has_signer(b.account, bytes.fromhex(row.qx), bytes.fromhex(row.qy))
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
