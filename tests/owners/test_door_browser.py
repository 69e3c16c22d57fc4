"""The issue's "Done means" in real Chromium with virtual authenticators, on one stack (Anvil under
Osaka: passkey transfers take the collection's ERC-1271 path): buyer A, with no wallet, creates a
passkey, claims a twin to the passkey account and sees it as theirs; A resells it to buyer B (another
browser with its own passkey) by a passkey-signed transfer the service relays; B sees it as theirs and
A no longer. Before the resale the brand defines a once-per-twin privilege: A redeems it on "My items"
(a receipt QR the brand's check accepts once) and shares details with the brand by signing with the
passkey (no wallet: EIP-6492, the account not deployed yet); after it, A's privileges are gone, B sees
the privilege already redeemed for the twin, and A's revoked consent is absent from the brand's
export. Also: a page whose server proposes another transfer gets nothing signed; an
authenticator that does not verify its user is refused; a passkey synced to a third browser signs
in; axe-core on the owner's views in both languages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

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
    csp: list[str] = field(default_factory=list)  # the page's CSP violations (none expected)

    def bearer(self) -> dict[str, str]:
        token = self.page.evaluate("JSON.parse(localStorage.getItem('twinmark.owner')).token")
        return {"Authorization": f"Bearer {token}"}

    def my_items_until(self, door: Door, selector: str) -> None:
        """ "My items", reloaded until `selector` is on it (the index follows the chain a moment later)."""
        deadline = time.monotonic() + 20
        while True:
            self.page.goto(f"{door.url}/owners/me")
            self.page.wait_for_selector("#my-items[data-loaded]", state="attached")
            if self.page.locator(selector).count() or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert self.page.locator(selector).count(), selector


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

    a.page.on("console", lambda m: a.csp.append(m.text) if "Content Security Policy" in m.text else None)

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


CONSENTED = {"email": "a.buyer@example.com", "name": "A. Buyer"}


def test_a_redeems_a_privilege_and_consents_with_the_passkey(door: Door, sold: dict[str, Any]) -> None:
    """The brand defines a once-per-twin privilege (API key); A redeems it on "My items" and gets a
    receipt QR the brand's check accepts once; A shares two fields with the brand, signed by the
    passkey (no wallet); the brand's export holds A with exactly those fields."""
    a, token, api = sold["a"], sold["token"], door.stack.client
    r = api.post(
        "/v1/privileges",
        json={
            "kind": "redeem_once",
            "name": {"en": "Atelier visit", "zh": "工坊参观"},
            "description": {"en": "A seat at the spring atelier evening.", "zh": "春季工坊之夜的一个座位。"},
            "rules": {"collections": [door.collection]},
        },
        headers=door.brand,
    )
    assert r.status_code == 201, r.text
    pid = sold["privilege"] = r.json()["id"]
    recipient = {"recipient_name": "Maison Aurèle SAS", "recipient_contact": "privacy@aurele.example"}
    r = api.put("/v1/brands/me/consent/recipient", json=recipient | {"recipient_country": "FR"}, headers=door.brand)
    assert r.status_code == 200, r.text

    # A's item carries it: Redeem -> the receipt's QR (an image of this origin), linking to its page.
    entry = f"#my-items ul[data-token='{token}'] li[data-privilege='{pid}']"
    a.my_items_until(door, f"{entry} button")
    assert a.page.inner_text(entry).startswith("Atelier visit")
    a.page.click(f"{entry} button")
    a.page.wait_for_selector(f"{entry} .receipt img")
    a.page.wait_for_function(f'() => document.querySelector("{entry} .receipt img").naturalWidth > 100')
    href = str(a.page.get_attribute(f"{entry} .receipt a", "href"))
    assert href.startswith("/receipt?")
    receipt = parse_qs(urlparse(href).query)["r"][0]
    # The brand's staff check it: accepted once, then used.
    check = {"receipt": receipt, "venue": "flagship"}
    verdict = api.post("/v1/receipts/check", json=check, headers=door.brand).json()
    assert verdict["ok"] and verdict["reason"] == "accepted" and verdict["owner"] == a.account, verdict
    assert verdict["token_id"] == token and verdict["privilege_id"] == pid
    again = api.post("/v1/receipts/check", json=check, headers=door.brand).json()
    assert not again["ok"] and again["reason"] == "used", again
    assert api.get("/receipt/qr.svg", params={"r": "tmr1.not-a.receipt"}).status_code == 422  # as /receipt
    a.page.reload()  # still shown as A's receipt, not offered again
    a.page.wait_for_selector(f"{entry} .receipt img")
    assert a.page.locator(f"{entry} button").count() == 0

    # Consent, signed by the passkey through window.twinmarkSign: two fields, for owners' events.
    assert a.page.is_visible("#my-consent") and "Maison Aurèle" in a.page.inner_text("#consent-title")
    assert a.page.is_hidden("#consent-brand-row")  # one brand: nothing to choose
    for name, value in CONSENTED.items():
        a.page.check(f"#consent-share-{name}")
        a.page.fill(f"#consent-value-{name}", value)
    a.page.fill("#consent-value-phone", "+33 6 00 00 00 00")  # typed but not ticked: never shared
    a.page.select_option("#consent-purpose", "events")
    a.page.click("#consent-prepare")
    a.page.wait_for_selector("#consent-review:not([hidden])")
    before = a.authenticator.credentials()[0]["signCount"]
    a.page.click("#consent-sign")
    a.page.wait_for_selector("#consent-mine li[data-state='current']", timeout=30_000)
    assert a.authenticator.credentials()[0]["signCount"] > before  # the passkey signed it
    (mine,) = api.get("/v1/consent/mine", headers=a.bearer()).json()
    assert mine["signature_kind"] == "erc6492" and not door.stack.runtime.chain.account_deployed(a.account)
    (row,) = [row for row in export(door) if row["address"] == a.account]
    assert sorted(row["fields"]) == sorted(CONSENTED) and row["contact"] == CONSENTED
    assert row["purpose"] == "events"
    assert a.csp == []


def export(door: Door) -> list[dict[str, Any]]:
    r = door.stack.client.get("/v1/brands/me/consents", headers=door.brand)
    assert r.status_code == 200, r.text
    return list(r.json()["rows"])


def test_a_resells_to_b_by_passkey_and_b_sees_it_as_theirs(door: Door, sold: dict[str, Any]) -> None:
    a, b, token = sold["a"], sold["b"], sold["token"]
    a.page.goto(door.page_url(token))  # back from "My items" to the item's page
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

    # B's "my items" lists it once the index has the transfer, with the privilege already redeemed
    # for this twin (once per twin, whoever holds it): nothing to redeem, and why in plain words.
    pid = sold["privilege"]
    entry = f"#my-items ul[data-token='{token}'] li[data-privilege='{pid}']"
    b.my_items_until(door, entry)
    assert b.page.locator(f"#my-items a[data-token='{token}']").count() == 1
    assert b.page.locator(f"{entry} button").count() == 0 and b.page.locator(f"{entry} .receipt").count() == 0
    assert "already redeemed for this item" in b.page.inner_text(f"{entry} .why-not")
    (twin,) = door.stack.client.get("/v1/me/privileges", headers=b.bearer()).json()["twins"]
    (p,) = twin["privileges"]
    assert (p["redeemed"], p["eligible"], p["receipt"], p["why_not"]) == (True, False, None, ["already-redeemed"])

    # A's privileges ended with the transfer: none on A's "My items", none through the API.
    a.my_items_until(door, "#my-items[data-loaded]")
    assert a.page.inner_text("#my-note") == "No items yet." and a.page.locator(".privileges").count() == 0
    assert door.stack.client.get("/v1/me/privileges", headers=a.bearer()).json()["twins"] == []

    # A's consent is paused (A owns none of the brand's items) and A revokes it, still from "My items"
    # (the brand stays listed through the consent); the next export lacks A, and holding an item of the
    # brand again would not bring it back.
    assert a.page.is_visible("#my-consent")
    a.page.wait_for_selector("#consent-mine li[data-state='not-an-owner']")
    a.page.click("#consent-mine li button")
    a.page.wait_for_selector("#consent-mine li[data-state='revoked']")
    assert all(row["address"] != a.account for row in export(door))
    (mine,) = door.stack.client.get("/v1/consent/mine", headers=a.bearer()).json()
    assert mine["state"] == "revoked" and mine["revoked_at"] is not None
    assert a.csp == []


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
    whichever is present, so the phone steps away for the creation and comes back for the signatures.
    The account, deployed by that first action, then signs a consent with plain ERC-1271."""
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

    # B's account now has code: a message it signs is a plain ERC-1271 signature (no EIP-6492 wrap).
    page.goto(f"{door.url}/owners/me")
    page.wait_for_selector("#my-consent:not([hidden])")
    page.check("#consent-share-language")
    page.fill("#consent-value-language", "en")
    page.click("#consent-prepare")
    page.wait_for_selector("#consent-review:not([hidden])")
    page.click("#consent-sign")
    page.wait_for_selector("#consent-mine li[data-state='current']", timeout=30_000)
    token = page.evaluate("sessionStorage.getItem('tm_player_session')")  # the consent block's key, kept in step
    (mine,) = door.stack.client.get("/v1/consent/mine", headers={"Authorization": f"Bearer {token}"}).json()
    assert mine["signature_kind"] == "erc1271" and mine["fields"] == ["language"]
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
