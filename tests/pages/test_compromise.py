"""Issuer standing in the browser: with a compromise window open, the page's script reads the twin's
content updates and status changes from the chain (eth_getLogs in bounded spans) and reaches the
server's verdict: a twin untouched since before the window passes, one whose content was replaced
inside it fails, for the same reason, on both sides."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.pages.conftest import MOBILE, Site, picture, recheck_state, showcase


@pytest.fixture(scope="module")
def world(site: Site) -> dict[str, Any]:
    client, chain = site.stack.client, site.stack.runtime.chain
    image = site.stack.upload(site.brand, picture(3), "c.png")
    before, updated = site.mint([showcase(f"CP-{i}", [image]) for i in range(2)])
    chain.w3.provider.make_request("evm_increaseTime", [10])  # type: ignore[arg-type]
    content = showcase("CP-1", [image]) | {"description": "Handle re-stitched by an unknown workshop."}
    r = client.put(f"/v1/twins/{site.collection}/{updated['token_id']}/metadata", json=content, headers=site.brand)
    assert r.status_code == 200, r.text
    tx = r.json()["update_tx_hash"]
    at = int(chain.w3.eth.get_block(chain.w3.eth.get_transaction_receipt(tx)["blockNumber"])["timestamp"])
    brand_id = client.get("/v1/brands/me", headers=site.brand).json()["id"]
    r = client.post(f"/v1/brands/{brand_id}/compromise", json={"since": at}, headers=site.stack.operator)
    assert r.status_code == 200, r.text
    time.sleep(0.3)  # the verifier answers as of the head block it last saw
    return {"before": before["token_id"], "updated": updated["token_id"], "tx": tx}


def open_recording(browser: Browser, site: Site, token: int) -> tuple[Page, list[str]]:
    page = browser.new_context(viewport=MOBILE, locale="en").new_page()
    methods: list[str] = []
    anvil = site.stack.anvil.url.rstrip("/")
    page.on(
        "request",
        lambda request: methods.append(request.post_data or "") if request.url.rstrip("/") == anvil else None,
    )
    page.goto(site.page_url(token))
    return page, methods


def test_a_twin_untouched_since_before_the_window_passes(browser: Browser, site: Site, world: dict[str, Any]) -> None:
    page, calls = open_recording(browser, site, world["before"])
    assert page.get_attribute("#verdict", "data-authentic") == "true"
    assert recheck_state(page) == "verified"
    assert any("eth_getLogs" in body for body in calls)  # the window made the script read the history


def test_content_replaced_inside_the_window_fails_on_both_sides(
    browser: Browser, site: Site, world: dict[str, Any]
) -> None:
    page, calls = open_recording(browser, site, world["updated"])
    assert page.get_attribute("#verdict", "data-authentic") == "false"
    assert page.get_attribute("[data-check=issuer_standing]", "data-ok") == "false"
    assert recheck_state(page) == "failed"  # the browser agrees: not authentic, for the same reason
    row = page.locator("#recheck-result li[data-check=issuer_standing]")
    assert row.get_attribute("data-ok") == "false"
    assert "current content set at" in row.inner_text() and world["tx"] in row.inner_text()
    assert page.eval_on_selector_all("#recheck-result li[data-check]", "els => els.map(e => e.dataset.check)") == [
        "issuer_standing"
    ]
    assert any("eth_getLogs" in body for body in calls)
