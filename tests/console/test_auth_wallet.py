"""Sign-In with Ethereum to the console for an admin holding the brand's admin wallet, in Chromium with
an injected EIP-1193 wallet (eth-account signing in Python): linking the wallet from the Security page,
then signing in with it from a fresh browser. And the refusals: a wallet that is not the brand's,
a non-admin linking, a replayed signature, a message edited to name another domain, and a linked
admin who was demoted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Browser, Page
from sqlmodel import select

from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from registry.db.engine import session_scope
from registry.staff.models import StaffMember, StaffRole
from tests.api.conftest import Stack, running_stack, stack_settings
from tests.pages.conftest import serve_on
from tests.support.console import SignedIn, sign_in

WALLET: LocalAccount = Account.create()  # the brand's admin wallet


@dataclass
class Console:
    stack: Stack
    url: str
    brand_id: str

    def member(self, role: StaffRole, name: str) -> SignedIn:
        return sign_in(self.stack.runtime.engine, self.stack.runtime.settings, self.brand_id, role, name=name)

    def post(self, path: str, body: dict[str, Any], who: SignedIn | None = None) -> httpx.Response:
        headers = {"Origin": self.url}
        if who is not None:
            headers |= {"X-CSRF-Token": who.csrf, "Cookie": f"{who.cookie_name}={who.cookie}"}
        return httpx.post(self.url + path, json=body, headers=headers)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    anvil = Anvil()
    anvil.start()
    port = free_port()
    settings = stack_settings(tmp_path_factory.mktemp("console-wallet"), anvil, public_url=f"http://localhost:{port}")
    with running_stack(settings, anvil) as stack, serve_on(create_app(runtime=stack.runtime), port):
        r = stack.client.post(
            "/v1/brands",
            json={"name": "Maison Aurèle", "symbol": "MAUR", "admin_address": WALLET.address},
            headers=stack.operator,
        )
        assert r.status_code == 201, r.text
        yield Console(stack, f"http://localhost:{port}", r.json()["id"])


def with_wallet(page: Page, account: LocalAccount) -> None:
    def request(method: str, params_json: str) -> Any:
        params = json.loads(params_json)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [account.address.lower()]  # as many wallets answer: the server checksums it
        if method == "personal_sign":
            assert params[1].lower() == account.address.lower()
            return "0x" + bytes(account.sign_message(encode_defunct(hexstr=params[0])).signature).hex()
        raise ValueError(f"test wallet: unsupported method {method}")

    page.expose_function("__testWallet", request)
    page.add_init_script(
        "window.ethereum = {request: ({method, params}) => window.__testWallet(method, JSON.stringify(params || []))};"
    )


def signed(account: LocalAccount, message: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()


def test_an_admin_links_the_wallet_and_signs_in_with_it(console: Console, browser: Browser) -> None:
    admin = console.member(StaffRole.admin, "Wallet Holder")
    ctx = browser.new_context()
    ctx.add_cookies([{"name": admin.cookie_name, "value": admin.cookie, "url": console.url}])
    page = ctx.new_page()
    with_wallet(page, WALLET)
    page.goto(console.url + "/console/security")
    assert WALLET.address in page.inner_text("#wallet")
    page.click("#link-wallet")
    page.wait_for_function("() => document.getElementById('wallet-status').dataset.state === 'done'")
    with session_scope(console.stack.runtime.engine) as s:
        assert s.get(StaffMember, admin.staff_id).wallet == WALLET.address.lower()  # type: ignore[union-attr]
    ctx.close()

    fresh = browser.new_context()
    page = fresh.new_page()
    with_wallet(page, WALLET)
    page.goto(console.url + "/console/sign-in?next=/console/sessions")
    page.click("#wallet-button")
    page.wait_for_url(console.url + "/console/sessions")
    assert "Wallet Holder" in page.inner_text("header")
    fresh.close()


def test_wallet_refusals(console: Console) -> None:
    admin = console.member(StaffRole.admin, "Another Admin")
    stranger: LocalAccount = Account.create()
    # A wallet that is not the brand's admin wallet cannot be linked.
    start = console.post("/console/api/wallet/link/options", {"address": stranger.address}, admin).json()
    linked = console.post(
        "/console/api/wallet/link",
        {
            "challenge_id": start["challenge_id"],
            "message": start["message"],
            "signature": signed(stranger, start["message"]),
        },
        admin,
    )
    assert linked.status_code == 403 and "not the brand's admin wallet" in linked.json()["detail"]
    # An operator may not link at all.
    operator = console.member(StaffRole.operator, "Operator")
    assert console.post("/console/api/wallet/link/options", {"address": WALLET.address}, operator).status_code == 403

    # A good sign-in, then its replay.
    start = console.post("/console/api/sign-in/wallet/options", {"address": WALLET.address}).json()
    body = {
        "challenge_id": start["challenge_id"],
        "message": start["message"],
        "signature": signed(WALLET, start["message"]),
    }
    assert console.post("/console/api/sign-in/wallet", body).status_code == 200
    replay = console.post("/console/api/sign-in/wallet", body)
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]

    # The message edited to name another site, and signed: refused by the EIP-4361 checks.
    start = console.post("/console/api/sign-in/wallet/options", {"address": WALLET.address}).json()
    host = console.url.removeprefix("http://")
    edited = start["message"].replace(host, "evil.example", 1)
    refused = console.post(
        "/console/api/sign-in/wallet",
        {"challenge_id": start["challenge_id"], "message": edited, "signature": signed(WALLET, edited)},
    )
    assert refused.status_code == 401 and "evil.example" in refused.json()["detail"]

    # The linked admin demoted: their wallet signs no one in any more.
    with session_scope(console.stack.runtime.engine) as s:
        holder_id = s.exec(select(StaffMember.id).where(StaffMember.wallet == WALLET.address.lower())).one()
    r = httpx.post(
        f"{console.url}/console/security/staff/{holder_id}/role",
        data={"csrf": admin.csrf, "role": "analyst"},
        headers={"Origin": console.url, "Cookie": f"{admin.cookie_name}={admin.cookie}"},
    )
    assert r.status_code == 303, r.text
    start = console.post("/console/api/sign-in/wallet/options", {"address": WALLET.address}).json()
    demoted = console.post(
        "/console/api/sign-in/wallet",
        {
            "challenge_id": start["challenge_id"],
            "message": start["message"],
            "signature": signed(WALLET, start["message"]),
        },
    )
    assert demoted.status_code == 401 and "signs in no admin" in demoted.json()["detail"]
