"""The in-browser re-check: the page's own script reaches the verdict from the chain (Anvil's RPC) and
raw blocks it hashes itself, with this service's verification routes disabled, through another IPFS
node's gateway (the js-ipfs daemon's, holding the same blocks), and it fails, naming the check, when a
gateway serves a tampered block."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from registry.ipfs.cid import CID
from registry.pages.catalog_en import CHECKS, TEXTS
from tests.pages.conftest import MOBILE, Site, picture, recheck_state, requests_to, showcase
from tests.support.ipfs_daemon import copy_dag


@pytest.fixture(scope="module")
def bag(site: Site) -> dict[str, Any]:
    images = [site.stack.upload(site.brand, picture(i), f"r-{i}.png") for i in range(2)]
    (twin,) = site.mint([showcase("RC-1", images)])
    record = site.stack.client.get(f"/v1/twins/{site.collection}/{twin['token_id']}").json()
    verdict = site.stack.client.get(f"/v1/verify/{site.collection}/{twin['token_id']}").json()
    assert verdict["authentic"] is True
    return twin | {"images": images, "directory": record["directory_cid"], "metadata": verdict["twin"]["metadata_cid"]}


def new_page(browser: Browser) -> Page:
    return browser.new_context(viewport=MOBILE, locale="en").new_page()


def as_requested(cid: str) -> str:
    """The form the page asks gateways for (CIDv1, base32)."""
    return str(CID.parse(cid).v1())


def test_passes_with_the_verification_routes_disabled(browser: Browser, site: Site, bag: dict[str, Any]) -> None:
    page = new_page(browser)
    page.route("**/v1/verify/**", lambda route: route.abort())
    to_service_api = requests_to(page, lambda url: url.startswith(f"{site.url}/v1/"))
    to_chain = requests_to(page, lambda url: url.rstrip("/") == site.stack.anvil.url.rstrip("/"))
    raw_blocks = requests_to(page, lambda url: "format=raw" in url)
    page.goto(site.page_url(bag["token_id"]))
    assert recheck_state(page) == "verified"
    assert page.inner_text("#recheck-badge") == TEXTS["recheck_ok"]
    assert to_service_api == []  # neither /v1/verify nor any other API route was asked
    assert to_chain  # the chain was read through the RPC URL itself
    fetched = {url.split("/ipfs/")[1].split("?")[0] for url in raw_blocks}
    assert {as_requested(bag["directory"]), as_requested(bag["metadata"])} <= fetched
    assert {as_requested(cid) for cid in bag["images"]} <= fetched
    checks = page.evaluate("() => window.twinmarkRecheck.checks.map(c => [c.name, c.ok])")
    assert [name for name, _ in checks] == list(CHECKS) and all(ok for _, ok in checks)


def test_passes_through_another_ipfs_nodes_gateway(
    browser: Browser, site: Site, bag: dict[str, Any], ipfs_daemon: str, ipfs_gateway: str
) -> None:
    for cid in (bag["directory"], *bag["images"]):  # the other node holds the very same blocks
        copy_dag(site.url, cid, ipfs_daemon)
    page = new_page(browser)
    page.route(f"{site.url}/ipfs/**", lambda route: route.abort())  # this service's gateway is away
    ours = requests_to(page, lambda url: url.startswith(f"{site.url}/ipfs/") and "format=raw" in url)
    theirs = requests_to(page, lambda url: url.startswith(f"{ipfs_gateway}/ipfs/"))
    page.goto(site.page_url(bag["token_id"]))
    assert recheck_state(page) == "differs"  # without a gateway the content checks cannot pass
    page.fill("#recheck-gateway", f"{ipfs_gateway}/ipfs")
    ours.clear()
    page.click("#recheck-form button[type=submit]")
    assert recheck_state(page) == "verified"
    assert theirs and not ours
    assert page.inner_text("#recheck-badge") == TEXTS["recheck_ok"]


@pytest.mark.parametrize(("target", "check"), [("metadata", "metadata_integrity"), ("image", "assets_integrity")])
def test_fails_on_a_tampered_block_and_names_the_check(
    browser: Browser, site: Site, bag: dict[str, Any], target: str, check: str
) -> None:
    victim = as_requested(bag["metadata"] if target == "metadata" else bag["images"][1])
    tampered: list[str] = []

    def flip_a_byte(route: Route) -> None:
        answer = route.fetch()
        body = answer.body()
        if f"/ipfs/{victim}?" not in route.request.url:
            return route.fulfill(response=answer)
        tampered.append(route.request.url)
        route.fulfill(response=answer, body=body[:-1] + bytes([body[-1] ^ 1]))

    page = new_page(browser)
    page.route(lambda url: "/ipfs/" in url and "format=raw" in url, flip_a_byte)
    page.goto(site.page_url(bag["token_id"]))
    assert recheck_state(page) == "differs"
    assert tampered
    assert page.get_attribute("#verdict", "data-authentic") == "true"  # the server's verdict, rendered
    assert page.inner_text("#recheck-badge") == TEXTS["recheck_differs"]
    row = page.locator(f"#recheck-result li[data-check={check}]")
    assert row.get_attribute("data-ok") == "false"
    text = row.inner_text()
    assert CHECKS[check]["title"] in text and "your browser says Failed, this page says Passed" in text
    assert f"{victim}: the gateway's bytes do not hash to this CID" in text
    others = page.eval_on_selector_all("#recheck-result li[data-check]", "els => els.map(e => e.dataset.check)")
    # Only that check differs; a description that fails leaves its assets unchecked (as on the server).
    assert others == ([check] if target == "image" else [check, "assets_integrity"])
