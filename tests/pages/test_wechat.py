"""The page inside WeChat's in-app browser: Chinese when WeChat's user agent names Chinese (whatever the
phone's Accept-Language), verified without a wallet, and re-checked where WebCrypto's `crypto.subtle`
is missing (a page over plain http, an old WebView) with the vendored @noble/hashes SHA-256, fetched only
then, reaching the server's verdict for a genuine twin, a stolen one and a tampered block; what a
re-check loads stays within 60 KB gzipped; no web font is fetched; no serious axe violation in Chinese."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, Route

from registry.ipfs.cid import CID
from registry.pages.catalog_zh import CHECKS as CHECKS_ZH
from registry.pages.catalog_zh import TEXTS as TEXTS_ZH
from registry.pages.locale import app_language, negotiate
from tests.pages.conftest import AXE, MOBILE, ROOT, Site, picture, recheck_state, requests_to, showcase

# WeChat 8.0 on an iPhone and on Android, as their in-app browsers send it.
WECHAT_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; V2218A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 "
    "MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/4G Language/zh_CN ABI/arm64"
)
NOBLE = "/static/vendor/noble-sha256-1.8.0.min.js"
# What an old or non-secure page lacks: `crypto.subtle` is [SecureContext], absent from the prototype there.
NO_WEBCRYPTO = "delete Crypto.prototype.subtle;"
BUDGET = 60 * 1024


@pytest.fixture(scope="module")
def corpus(site: Site) -> dict[str, Any]:
    """A genuine twin and a stolen one (the server's verdict: not authentic), with the server's checks."""
    images = [site.stack.upload(site.brand, picture(i), f"wx-{i}.png") for i in range(2)]
    genuine, stolen = site.mint([showcase("WX-1", images), showcase("WX-2", images[:1])])
    reported = site.stack.client.post(
        f"/v1/twins/{site.collection}/{stolen['token_id']}/status", json={"status": "stolen"}, headers=site.brand
    )
    assert reported.status_code in (200, 202), reported.text
    verdicts = {}
    for name, twin in (("genuine", genuine), ("stolen", stolen)):
        verdict = site.stack.client.get(f"/v1/verify/{site.collection}/{twin['token_id']}").json()
        verdicts[name] = {
            "token_id": twin["token_id"],
            "authentic": verdict["authentic"],
            "checks": [[c["name"], c["ok"]] for c in verdict["checks"]],
            "metadata": verdict["twin"]["metadata_cid"],
        }
    assert verdicts["genuine"]["authentic"] is True and verdicts["stolen"]["authentic"] is False
    return verdicts


def wechat_page(browser: Browser, *, webcrypto: bool = True, **context: Any) -> Page:
    """A phone-sized page with WeChat's user agent, the phone set to English (Accept-Language), no wallet."""
    page = browser.new_context(viewport=MOBILE, user_agent=WECHAT_IOS, locale="en-US", **context).new_page()
    if not webcrypto:
        page.add_init_script(NO_WEBCRYPTO)
    return page


@pytest.mark.parametrize(
    ("user_agent", "accept", "explicit", "expected"),
    [
        (WECHAT_IOS, "en-US,en;q=0.9", None, "zh-CN"),  # WeChat's language over the phone's
        (WECHAT_ANDROID, "en", None, "zh-CN"),
        (WECHAT_IOS.replace("zh_CN", "zh_TW"), "en", None, "zh-CN"),  # the only Chinese offered
        (WECHAT_IOS.replace("zh_CN", "en"), "zh-CN", None, "en"),  # WeChat set to English
        (WECHAT_IOS, "en", "en", "en"),  # ?lang= (the reader's own click) wins
        (WECHAT_IOS.replace("zh_CN", "fr"), "zh-CN", None, "zh-CN"),  # not offered: Accept-Language decides
        ("Mozilla/5.0 (X11; Linux) Language/zh_CN", "en", None, "en"),  # only WeChat's token counts
        (WECHAT_IOS.replace(" Language/zh_CN", ""), "en", None, "en"),
        (None, "zh-CN", None, "zh-CN"),
    ],
)
def test_wechat_language_token_decides_before_accept_language(
    user_agent: str | None, accept: str, explicit: str | None, expected: str
) -> None:
    assert negotiate(accept, explicit, app_language(user_agent)) == expected


def test_wechat_user_agent_gets_the_chinese_page_verified_without_a_wallet(
    browser: Browser, site: Site, corpus: dict[str, Any]
) -> None:
    twin = corpus["genuine"]
    page = wechat_page(browser)
    noble = requests_to(page, lambda url: url.endswith(NOBLE))
    fonts: list[str] = []
    page.on("request", lambda r: fonts.append(r.url) if r.resource_type == "font" else None)
    answer = page.goto(site.page_url(twin["token_id"]))
    assert answer is not None and answer.headers["content-language"] == "zh-CN"
    assert "User-Agent" in answer.headers["vary"]  # a shared cache must not hand it to another browser
    assert page.evaluate("() => navigator.language") == "en-US"  # the phone reads English
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("#verdict-title").endswith(TEXTS_ZH["verdict_ok"])
    assert page.evaluate("() => typeof window.ethereum") == "undefined"  # WeChat has no wallet
    assert recheck_state(page) == "verified"
    assert page.inner_text("#recheck-badge") == TEXTS_ZH["recheck_ok"]
    assert page.evaluate("() => !!crypto.subtle") and noble == []  # WebCrypto there: noble never fetched
    assert fonts == []
    # The Chinese page asks for the phone's CJK UI font first, never a downloaded one.
    family = page.evaluate("() => getComputedStyle(document.documentElement).fontFamily")
    assert family.startswith('"PingFang SC"')
    css = (ROOT / "api/static/page.css").read_text()
    assert "@font-face" not in css and "url(" not in css


@pytest.mark.parametrize("name", ["genuine", "stolen"])
def test_recheck_without_webcrypto_reaches_the_servers_verdict(
    browser: Browser, site: Site, corpus: dict[str, Any], name: str
) -> None:
    twin = corpus[name]
    page = wechat_page(browser, webcrypto=False)
    noble = requests_to(page, lambda url: url.endswith(NOBLE))
    page.goto(site.page_url(twin["token_id"]))
    assert page.evaluate("() => window.crypto.subtle === undefined && !('subtle' in window.crypto)")
    assert recheck_state(page) == ("verified" if twin["authentic"] else "failed")
    mine = page.evaluate("() => window.twinmarkRecheck")
    assert mine["authentic"] is twin["authentic"]
    assert [[c["name"], c["ok"]] for c in mine["checks"]] == twin["checks"]
    assert len(noble) == 1  # fetched once, for every block of the twin
    badge = TEXTS_ZH["recheck_ok" if twin["authentic"] else "recheck_failed"]
    assert page.inner_text("#recheck-badge") == badge


def test_tampered_block_fails_without_webcrypto(browser: Browser, site: Site, corpus: dict[str, Any]) -> None:
    twin = corpus["genuine"]
    victim = str(CID.parse(twin["metadata"]).v1())  # the form the page asks gateways for
    tampered: list[str] = []

    def flip_a_byte(route: Route) -> None:
        answer = route.fetch()
        body = answer.body()
        if f"/ipfs/{victim}?" not in route.request.url:
            return route.fulfill(response=answer)
        tampered.append(route.request.url)
        route.fulfill(response=answer, body=body[:-1] + bytes([body[-1] ^ 1]))

    page = wechat_page(browser, webcrypto=False)
    noble = requests_to(page, lambda url: url.endswith(NOBLE))
    page.route(lambda url: "/ipfs/" in url and "format=raw" in url, flip_a_byte)
    page.goto(site.page_url(twin["token_id"]))
    assert recheck_state(page) == "differs"
    assert tampered and len(noble) == 1
    row = page.locator("#recheck-result li[data-check=metadata_integrity]")
    assert row.get_attribute("data-ok") == "false"
    assert CHECKS_ZH["metadata_integrity"]["title"] in row.inner_text()
    assert "the gateway's bytes do not hash to this CID" in row.inner_text()


def test_recheck_scripts_fit_60_kb_gzipped(browser: Browser, site: Site, corpus: dict[str, Any]) -> None:
    """Every script the page runs for a re-check without WebCrypto (the heaviest case: noble too),
    measured as gzip -9 of the bytes served."""
    page = wechat_page(browser, webcrypto=False)
    scripts: dict[str, bytes] = {}

    def keep(response: Response) -> None:
        if response.request.resource_type == "script":
            scripts[response.url.removeprefix(site.url)] = response.body()

    page.on("response", keep)
    page.goto(site.page_url(corpus["genuine"]["token_id"]))
    assert recheck_state(page) == "verified"
    sizes = {path: len(gzip.compress(body, compresslevel=9)) for path, body in scripts.items()}
    recheck = ("vendor/ethers-6.17.0-page.min.js", "ipfs-check.js", "recheck.js", "vendor/noble-sha256-1.8.0.min.js")
    own = sum(sizes[f"/static/{name}"] for name in recheck)
    total = sum(sizes.values())
    for path, size in sorted(sizes.items()):
        print(f"{path}: {size} bytes gzipped")
    print(f"re-check scripts: {own} bytes gzipped; every script of the page: {total} bytes gzipped (budget {BUDGET})")
    assert "/static/vendor/ethers-6.umd.min.js" not in scripts  # the full ethers build: 163 KB gzipped
    assert total <= BUDGET
    # The operator's script (scripts/recheck_size.py) counts the same scripts to the same byte.
    script = subprocess.run(
        [sys.executable, str(ROOT / "scripts/recheck_size.py")], capture_output=True, text=True, check=True
    )
    assert f"{total:>7} B  total" in script.stdout, script.stdout
    # What the server sends is compressed too (GZipMiddleware on /static).
    served = httpx.get(f"{site.url}/static/vendor/ethers-6.17.0-page.min.js", headers={"Accept-Encoding": "gzip"})
    assert served.headers["content-encoding"] == "gzip"


def test_vendored_bundles_are_what_the_build_makes(tmp_path: Path) -> None:
    """The two bundles (and their licences) rebuild byte for byte from node_modules with esbuild."""
    subprocess.run(
        ["sh", str(ROOT / "tools/page-bundles/build.sh")], env=os.environ | {"OUT": str(tmp_path)}, check=True
    )
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == [
        "ethers-6.17.0-page.min.js",
        "ethers-page-LICENSE.md",
        "noble-hashes-LICENSE",
        "noble-sha256-1.8.0.min.js",
    ]
    for name in built:
        assert (tmp_path / name).read_bytes() == (ROOT / "api/static/vendor" / name).read_bytes(), name
    noble = (tmp_path / "noble-sha256-1.8.0.min.js").read_text()
    assert "var nobleSha256=" in noble and "@noble/hashes 1.8.0" in noble


def test_no_serious_accessibility_violation_in_chinese(browser: Browser, site: Site, corpus: dict[str, Any]) -> None:
    # axe is injected as a script: the page's CSP (script-src 'self') is bypassed for the test only.
    page = wechat_page(browser, webcrypto=False, bypass_csp=True)
    page.goto(site.page_url(corpus["genuine"]["token_id"]))
    assert page.get_attribute("html", "lang") == "zh-CN"
    recheck_state(page)  # scanned with the script's result in place
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious
    assert result["testEngine"]["name"] == "axe-core" and len(result["passes"]) > 10  # axe really ran
