"""The verification page in real Chromium (Debian's, driven by Playwright) against a real stack: Anvil,
SQLite, the local block store, the app served by uvicorn on loopback (the page's script fetches from it
and from Anvil over real HTTP). One browser per session, one stack per test module."""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Page
from starlette.types import ASGIApp

from tests.api.conftest import Stack, gtin
from tests.support.site import served_stack

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
MOBILE = {"width": 390, "height": 844}


@contextmanager
def serve_on(app: ASGIApp, port: int) -> Iterator[str]:
    """`app` under uvicorn on loopback `port` (known before the app's settings are made: the page
    renders its own gateway URL from `public_url`)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@dataclass
class Site:
    """A running stack and its page server, with one brand to mint with."""

    stack: Stack
    url: str
    brand: dict[str, str] = field(default_factory=dict)
    collection: str = ""

    def mint(self, twins: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Mints `twins` as one batch; each minted twin's record with its claim secret, if any."""
        client = self.stack.client
        job = self.stack.wait_job(
            self.brand, client.post("/v1/batches", json={"twins": twins}, headers=self.brand).json()["id"]
        )
        assert job["state"] == "completed", job
        secrets: dict[str, str] = {}
        if any(t.get("claimable") for t in twins):
            r = client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=self.brand)
            assert r.status_code == 200, r.text
            secrets = {row["serial"]: row["secret"] for row in r.json()["secrets"]}
        return [t | {"secret": secrets.get(t["serial"])} for t in job["twins"]]

    def page_url(self, token_id: int, **query: str) -> str:
        suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        return f"{self.url}/t/{self.collection}/{token_id}{suffix}"

    def owner_of(self, token_id: int) -> str:
        return str(self.stack.runtime.chain.collection(self.collection).functions.ownerOf(token_id).call())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_stack(tmp_path_factory.mktemp("page-stack"), as_served=False, public_rpc=True) as (stack, url):
        running = Site(stack, url)
        running.brand, running.collection = stack.new_brand("Maison Aurèle", "MAUR")
        yield running


# ---------------------------------------------------------------- content a buyer would see


def picture(seed: int, size: int = 160) -> bytes:
    """A real (decodable) PNG: a tan bag with a handle on a warm background, tinted by `seed`."""
    body = (150 + 20 * seed % 80, 96 + 10 * seed % 40, 52)
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            dx, dy = x - size / 2, y - size * 0.42
            in_handle = dy < 0 and (size * 0.22) ** 2 <= dx * dx + dy * dy <= (size * 0.28) ** 2
            in_body = size * 0.18 <= x <= size * 0.82 and size * 0.42 <= y <= size * 0.88
            row += bytes(body if in_body else (70, 45, 25) if in_handle else (238, 232, 222))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def showcase(serial: str, images: list[str], **extra: Any) -> dict[str, Any]:
    """A bag as a brand would mint it: passport, EU DPP fields and a bound NFC tag."""
    return {
        "kind": "physical",
        "name": "Sac Iconique 25",
        "description": "Top-handle bag in grained calfskin, hand-stitched in Paris.",
        "gtin": gtin("376012345678"),
        "serial": serial,
        "lot": "L2026-03",
        "images": images,
        "materials": [{"name": "Calfskin", "percent": 85}, {"name": "Brass", "percent": 15}],
        "origin_country": "FR",
        "manufactured_on": "2026-03-14",
        "dpp": {
            "category": "leather",
            "fibre_composition": [
                {"fibre": "bovine leather", "percent": 82},
                {"fibre": "cotton (lining)", "percent": 18, "recycled": True},
            ],
            "recycled_content_percent": 18,
            "origin_steps": [
                {"step": "tanning", "country": "IT", "facility": "Conceria del Chienti, Santa Croce"},
                {"step": "assembly", "country": "FR", "facility": "Atelier Aurèle, Paris"},
            ],
            "care_instructions": ["Wipe with a dry cloth", "Keep away from direct sunlight"],
            "repair": {
                "instructions": "Handles and edges can be re-stitched by the brand's workshops.",
                "service_url": "https://repair.maison-aurele.example/sac-iconique",
                "spare_parts_available": True,
            },
            "substances_of_concern": [
                {"name": "Chromium(III) sulfate", "cas": "10101-53-8", "concentration_percent": 0.02}
            ],
        },
        "nfc": [{"type": "ntag424", "uid": "04A1B2C3D4E5F6"}],
    } | extra


# ---------------------------------------------------------------- a test wallet in the page


@dataclass
class Wallet:
    account: LocalAccount
    calls: list[str] = field(default_factory=list)


def inject_wallet(page: Page, account: LocalAccount, chain_id: int) -> Wallet:
    """`window.ethereum` (EIP-1193) in `page`, backed by `account` signing in Python (eth-account)."""
    wallet = Wallet(account)

    def request(method: str, params_json: str) -> Any:
        wallet.calls.append(method)
        params = json.loads(params_json)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [account.address]
        if method == "eth_chainId":
            return hex(chain_id)
        if method == "eth_signTypedData_v4":
            assert params[0].lower() == account.address.lower()
            message = encode_typed_data(full_message=json.loads(params[1]))
            return "0x" + bytes(Account.sign_message(message, account.key).signature).hex()
        raise ValueError(f"test wallet: unsupported method {method}")

    page.expose_function("__testWallet", request)
    page.add_init_script(
        "window.ethereum = {isTestWallet: true, request: ({method, params}) =>"
        " window.__testWallet(method, JSON.stringify(params || []))};"
    )
    return wallet


def recheck_state(page: Page, timeout: float = 30_000) -> str:
    """The in-browser re-check's final state (verified, differs, failed, error)."""
    page.wait_for_function(
        "() => ['verified', 'differs', 'failed', 'error'].includes("
        "document.getElementById('recheck-result').dataset.state)",
        timeout=timeout,
    )
    return str(page.get_attribute("#recheck-result", "data-state"))


def requests_to(page: Page, predicate: Callable[[str], bool]) -> list[str]:
    """Starts recording the URLs of `page`'s requests that match; the list fills as they happen."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if predicate(request.url) else None)
    return seen
