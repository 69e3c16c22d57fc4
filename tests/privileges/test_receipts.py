"""Receipts at the venue over a real stack (SQLite and PostgreSQL) and the `twinmark receipt` command
run as a subprocess: a receipt is accepted once and a second use refused, online and with no network;
a forged or tampered receipt is refused offline; two venues offline both accepting one receipt are
found out when they sync (the second is a double use the brand sees); a receipt the brand revoked is
refused online; the owner's QR page."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from api.main import create_app
from registry.db.engine import session_scope
from registry.privileges.receipts import decode, receipt_account, sign
from registry.privileges.schemas import UseIn
from registry.privileges.uses import record_uses
from registry.runtime import Runtime
from tests.privileges.conftest import World, session_of
from tests.support.server import serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api_url(world: World) -> Iterator[str]:
    """The same runtime served over real HTTP, for the command line."""
    runtime: Runtime = world.stack.runtime
    with serve(create_app(runtime=runtime)) as url:
        yield url


def _receipt(world: World) -> str:
    owner, token = world.owned_twin()
    pid = world.privilege()
    r = world.stack.client.post(
        f"/v1/privileges/{pid}/redeem",
        json={"collection": world.collection, "token_id": token},
        headers=session_of(world.stack, owner),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["receipt"])


def _pinned(world: World) -> str:
    return receipt_account(world.stack.runtime.settings).address


def cli(*args: str, journal: Path, signer: str, venue: str = "venue-a") -> tuple[int, str]:
    env = os.environ | {"PYTHONPATH": str(ROOT), "TWINMARK_RECEIPT_JOURNAL": str(journal), "COLUMNS": "200"}
    env |= {"TWINMARK_RECEIPT_SIGNER": signer, "TWINMARK_VENUE": venue}
    env.pop("TWINMARK_API", None)
    env.pop("TWINMARK_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "receipt", *args], capture_output=True, text=True, env=env, timeout=60
    )
    return done.returncode, done.stdout + done.stderr


def test_the_published_key_is_the_receipt_key_not_the_relayers(world: World) -> None:
    body = world.stack.client.get("/v1/receipts/key").json()
    assert body["address"] == _pinned(world) and body["chain_id"] == world.stack.runtime.chain.chain_id
    assert body["address"] != world.stack.runtime.chain.signer
    assert body["domain"] == {"name": "Twinmark Receipt", "version": "1", "chainId": body["chain_id"]}


def test_online_a_receipt_is_accepted_once_and_forgeries_refused(world: World) -> None:
    client, text = world.stack.client, _receipt(world)

    def check(receipt: str, headers: dict[str, str] = world.brand) -> dict[str, Any]:
        r = client.post("/v1/receipts/check", json={"receipt": receipt, "venue": "shop"}, headers=headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    theirs = check(text, world.other)  # another brand's staff: not a receipt of theirs, and not used by it
    assert theirs["ok"] is False and theirs["reason"] == "unknown"
    first = check(text)
    assert first["ok"] is True and first["reason"] == "accepted"
    second = check(text)
    assert second["ok"] is False and second["reason"] == "used" and second["used_at"] is not None
    receipt, _ = decode(text)
    forged = sign(Account.create(), replace(receipt, nonce="0x" + "11" * 32))
    assert check(forged)["reason"] == "forged"
    assert check(text[:-4] + "AAAA")["reason"] == "forged"
    listed = client.get(
        "/v1/privileges/redemptions", headers=world.brand, params={"privilege_id": receipt.privilege_id}
    )
    assert listed.json()["redemptions"][0]["used_venue"] == "shop"


# An offline check reads no database: the SQLite stack says it all (the CLI is slow to start).
@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_offline_the_command_refuses_a_second_use_and_forgeries(world: World, tmp_path: Path) -> None:
    text, pinned, journal = _receipt(world), _pinned(world), tmp_path / "journal.jsonl"
    code, out = cli("check", text, journal=journal, signer=pinned)
    assert code == 0 and "ACCEPTED" in out, out
    code, out = cli("check", text, journal=journal, signer=pinned)
    assert code == 2 and "REFUSED used" in out, out
    receipt, _ = decode(text)
    other = replace(receipt, nonce="0x" + "22" * 32)
    for forged in (
        sign(Account.create(), other),
        text.replace(text.split(".")[1], text.split(".")[1][:-2] + "xx"),
        "hello",
    ):
        code, out = cli("check", forged, journal=journal, signer=pinned)
        assert code == 2 and "REFUSED forged" in out, out
    expired = sign(receipt_account(world.stack.runtime.settings), replace(other, expires_at=int(time.time()) - 1))
    code, out = cli("check", expired, journal=journal, signer=pinned)
    assert code == 2 and "REFUSED expired" in out, out
    assert len(journal.read_text().splitlines()) == 1  # only the accepted use was recorded


def test_two_venues_offline_both_accept_and_the_second_is_flagged_on_sync(
    world: World, tmp_path: Path, api_url: str
) -> None:
    text, pinned = _receipt(world), _pinned(world)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert cli("check", text, journal=a, signer=pinned, venue="Paris")[0] == 0
    time.sleep(1)  # the second venue accepted it later
    assert cli("check", text, journal=b, signer=pinned, venue="Milan")[0] == 0
    key = world.brand["Authorization"].removeprefix("Bearer ")
    code, out = cli("sync", "--api", api_url, "--key", key, journal=a, signer=pinned)
    assert code == 0 and "synced 1 use(s), 0 double" in out, out
    code, out = cli("sync", "--api", api_url, "--key", key, journal=b, signer=pinned)
    assert code == 0 and "DOUBLE USE" in out and "1 double use(s)" in out, out
    assert "nothing to sync" in cli("sync", "--api", api_url, "--key", key, journal=b, signer=pinned)[1]
    receipt, _ = decode(text)
    rows = world.stack.client.get(
        "/v1/privileges/redemptions", headers=world.brand, params={"privilege_id": receipt.privilege_id}
    ).json()["redemptions"]
    assert rows[0]["used_venue"] == "Paris" and rows[0]["double_uses"] == 1
    # Online now, a third venue is refused at once.
    code, out = cli("check", text, "--api", api_url, "--key", key, journal=tmp_path / "c.jsonl", signer=pinned)
    assert code == 2 and "REFUSED used" in out, out


def test_a_revoked_receipt_is_refused_online_and_a_dead_network_falls_back(
    world: World, tmp_path: Path, api_url: str
) -> None:
    text, pinned = _receipt(world), _pinned(world)
    key = world.brand["Authorization"].removeprefix("Bearer ")
    listed = world.stack.client.get("/v1/privileges/redemptions", headers=world.brand).json()["redemptions"]
    rid = next(r["id"] for r in listed if r["token_id"] == decode(text)[0].token_id)
    r = world.stack.client.post(f"/v1/privileges/redemptions/{rid}/revoke", headers=world.brand)
    assert r.status_code == 200 and r.json()["revoked_reason"] == "brand"
    code, out = cli("check", text, "--api", api_url, "--key", key, journal=tmp_path / "j.jsonl", signer=pinned)
    assert code == 2 and "REFUSED revoked" in out, out
    # With the server unreachable, the venue decides offline (and syncs later).
    fresh = _receipt(world)
    dead = "http://127.0.0.1:9"
    code, out = cli("check", fresh, "--api", dead, "--key", key, journal=tmp_path / "j.jsonl", signer=pinned)
    assert code == 0 and "offline" in out and "ACCEPTED" in out, out


def test_the_owners_qr_page(world: World) -> None:
    text = _receipt(world)
    page = world.stack.client.get("/receipt", params={"r": text})
    assert page.status_code == 200 and 'id="receipt-qr"' in page.text and "data:image/svg+xml" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all: default-src 'none'
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    zh = world.stack.client.get("/receipt", params={"r": text, "lang": "zh-CN"})
    assert "您的凭证" in zh.text
    assert world.stack.client.get("/receipt", params={"r": "tmr1.nothing.here"}).status_code == 422


def test_venues_syncing_at_once_record_one_first_use(world: World) -> None:
    """Two venues' journals uploaded at the same moment (threads, one transaction each): exactly one
    first use and one double use, and the same journal uploaded twice at once counts once."""
    rt = world.stack.runtime
    text, pinned = _receipt(world), _pinned(world)
    brand_id = world.stack.client.get("/v1/brands/me", headers=world.brand).json()["id"]
    start = threading.Barrier(4)

    def upload(venue: str) -> str:
        start.wait()
        with session_scope(rt.engine) as s:
            done = record_uses(
                s,
                uses=[UseIn(receipt=text, venue=venue, used_at=1_800_000_000)],
                pinned=pinned,
                chain_id=rt.chain.chain_id,
                brand_id=brand_id,
                now=int(time.time()),
            )
        return done[0].outcome

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(upload, ["Paris", "Paris", "Milan", "Milan"]))
    assert outcomes.count("first") == 1 and outcomes.count("double") == 1, outcomes
    assert outcomes.count("already-known") == 2, outcomes
