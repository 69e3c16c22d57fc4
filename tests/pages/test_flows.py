"""The buyer's flows driven in the page with a test wallet injected (window.ethereum backed by
eth-account): claiming with the secret from the claim link's fragment or typed from the packaging,
reselling by a signed transfer, and the warning on a twin reported stolen."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from playwright.sync_api import Browser, Page

from registry.pages.catalog_en import TEXTS
from registry.pages.catalog_zh import TEXTS as TEXTS_ZH
from tests.pages.conftest import MOBILE, Site, inject_wallet, picture, recheck_state, requests_to, showcase


@pytest.fixture(scope="module")
def twins(site: Site) -> dict[str, dict[str, Any]]:
    image = site.stack.upload(site.brand, picture(7), "bag.png")
    minted = site.mint([showcase(f"FL-{i}", [image], claimable=True) for i in range(5)])
    return {name: minted[i] for i, name in enumerate(("link", "typed", "resale", "stolen", "not_owner"))}


def new_page(browser: Browser, lang: str = "en") -> Page:
    return browser.new_context(viewport=MOBILE, locale=lang).new_page()


def claim_by_api(site: Site, twin: dict[str, Any], recipient: str) -> None:
    body = {"secret": twin["secret"], "recipient": recipient}
    r = site.stack.client.post(f"/v1/twins/{site.collection}/{twin['token_id']}/claim", json=body)
    assert r.status_code == 200, r.text


def test_claim_with_the_secret_from_the_link_fragment_and_the_wallet(
    browser: Browser, site: Site, twins: dict[str, Any]
) -> None:
    twin = twins["link"]
    page = new_page(browser)
    wallet = inject_wallet(page, Account.create(), site.stack.runtime.chain.chain_id)
    urls = requests_to(page, lambda url: True)
    page.goto(site.page_url(twin["token_id"]) + f"#claim={twin['secret']}")
    # The secret was read from the fragment and at once removed from the address bar.
    assert page.evaluate("location.hash") == ""
    assert page.url == site.page_url(twin["token_id"])
    assert page.input_value("#claim-secret") == twin["secret"]
    assert page.is_visible("#claim-link-note")
    page.click("#claim-wallet")
    page.wait_for_function("() => document.getElementById('claim-recipient').value.startsWith('0x')")
    assert page.input_value("#claim-recipient") == wallet.account.address
    page.click("#claim-form button[type=submit]")
    page.wait_for_selector("#claim-result[data-ok=true]", timeout=30_000)
    assert wallet.account.address in page.inner_text("#claim-result")
    assert page.inner_text("#owner") == wallet.account.address
    assert site.owner_of(twin["token_id"]) == wallet.account.address
    assert "eth_requestAccounts" in wallet.calls
    assert not [url for url in urls if twin["secret"] in url]  # the secret travelled only in the POST body


def test_claim_with_a_typed_secret_and_a_pasted_address_shows_refusals(
    browser: Browser, site: Site, twins: dict[str, Any]
) -> None:
    twin, buyer = twins["typed"], Account.create().address
    page = new_page(browser, "zh-CN")
    page.goto(site.page_url(twin["token_id"], lang="zh-CN"))
    assert not page.is_visible("#claim-link-note")
    page.fill("#claim-secret", "B" * 32)
    page.fill("#claim-recipient", buyer)
    page.click("#claim-form button[type=submit]")
    page.wait_for_selector("#claim-result[data-ok=false]")
    refused = page.inner_text("#claim-result")
    assert refused.startswith(TEXTS_ZH["refused"].split("{")[0]) and "attempts left" in refused  # problem detail
    page.fill("#claim-secret", twin["secret"])
    page.click("#claim-form button[type=submit]")
    page.wait_for_selector("#claim-result[data-ok=true]", timeout=30_000)
    assert site.owner_of(twin["token_id"]) == buyer


def test_resale_signed_in_the_wallet(browser: Browser, site: Site, twins: dict[str, Any]) -> None:
    twin, owner, buyer = twins["resale"], Account.create(), Account.create().address
    claim_by_api(site, twin, owner.address)
    page = new_page(browser)
    wallet = inject_wallet(page, owner, site.stack.runtime.chain.chain_id)
    page.goto(site.page_url(twin["token_id"]))
    assert not page.is_visible("#claim-form")  # claimed: the page offers the resale instead
    page.click("#resale-connect")
    page.wait_for_selector(f"#resale-account:has-text('{owner.address}')")
    page.fill("#resale-buyer", buyer)
    page.click("#resale-form button[type=submit]")
    page.wait_for_selector("#resale-result[data-ok=true]", timeout=30_000)
    assert buyer in page.inner_text("#resale-result")
    assert "eth_signTypedData_v4" in wallet.calls
    assert site.owner_of(twin["token_id"]) == buyer
    page.reload()
    assert page.inner_text("#owner") == buyer and page.inner_text("#owners") == "3"  # custodian, owner, buyer


def test_resale_from_a_wallet_that_is_not_the_owner_signs_nothing(
    browser: Browser, site: Site, twins: dict[str, Any]
) -> None:
    twin, owner = twins["not_owner"], Account.create()
    claim_by_api(site, twin, owner.address)
    page = new_page(browser)
    intruder = inject_wallet(page, Account.create(), site.stack.runtime.chain.chain_id)
    page.goto(site.page_url(twin["token_id"]))
    page.fill("#resale-buyer", intruder.account.address)
    page.click("#resale-form button[type=submit]")
    page.wait_for_selector("#resale-result[data-ok=false]")
    expected = TEXTS["resale_not_owner"].format(account=intruder.account.address, owner=owner.address)
    assert page.inner_text("#resale-result") == expected
    assert "eth_signTypedData_v4" not in intruder.calls
    assert site.owner_of(twin["token_id"]) == owner.address


def test_a_stolen_twin_shows_a_warning(browser: Browser, site: Site, twins: dict[str, Any]) -> None:
    token = twins["stolen"]["token_id"]
    r = site.stack.client.post(
        f"/v1/twins/{site.collection}/{token}/status", json={"status": "stolen"}, headers=site.brand
    )
    assert r.status_code == 200, r.text
    for lang, texts in (("en", TEXTS), ("zh-CN", TEXTS_ZH)):
        page = new_page(browser, lang)
        page.goto(site.page_url(token, lang=lang))
        warning = page.locator("[role=alert]#status-warning")
        assert warning.get_attribute("data-status") == "stolen"
        assert texts["stolen_title"] in warning.inner_text() and texts["stolen_body"] in warning.inner_text()
        assert page.get_attribute("#verdict", "data-authentic") == "false"
        assert page.get_attribute("[data-check=status]", "data-ok") == "false"
        assert not page.is_visible("#claim-form") and not page.is_visible("#resale-form")
        # The browser's own check agrees: not authentic, for the same reason.
        assert recheck_state(page) == "failed"
        assert page.get_attribute("#recheck-result li[data-check=status]", "data-ok") == "false"
