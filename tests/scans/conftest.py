"""A real stack (SQLite or PostgreSQL) served by a real uvicorn configured as `twinmark serve` runs it
(no proxy header handling of its own), with loopback as the trusted proxy: tests name the client by
`X-Forwarded-For`, as a load balancer in front would."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from registry.db.engine import session_scope
from registry.nfc import diversify
from registry.nfc.service import enrol_challenge
from registry.scans.models import Scan
from tests.api.conftest import Stack, _database_url, physical
from tests.conftest import postgres_server  # noqa: F401 - the fixture _database_url asks for
from tests.nfc.simulator import HaloChip, Ntag424
from tests.support.site import BROWSER, HTML, mint, served_stack

MASTER = os.urandom(16)


@dataclass
class Site:
    stack: Stack
    url: str
    brand: dict[str, str] = field(default_factory=dict)
    collection: str = ""
    tokens: list[int] = field(default_factory=list)
    twins: list[dict[str, Any]] = field(default_factory=list)
    other_brand: dict[str, str] = field(default_factory=dict)
    other_collection: str = ""
    other_token: int = 0
    tag: Ntag424 | None = None
    chip: HaloChip | None = None

    def browser(self, client_ip: str | None = None, **headers: str) -> httpx.Client:
        """A browser (its own cookie jar) behind the trusted proxy, seen as `client_ip`."""
        sent = {"User-Agent": BROWSER, "Accept": HTML} | headers
        if client_ip is not None:
            sent["X-Forwarded-For"] = client_ip
        return httpx.Client(base_url=self.url, headers=sent, timeout=30)

    def scans(self, **where: Any) -> list[Scan]:
        """The stored scans (after the queue is written), oldest first, filtered by column values."""
        assert self.stack.runtime.scans.flush(10)
        with session_scope(self.stack.runtime.engine) as s:
            query = select(Scan)
            for name, value in where.items():
                query = query.where(getattr(Scan, name) == value)
            return list(s.exec(query.order_by(col(Scan.id))))

    def last_id(self) -> int:
        rows = self.scans()
        return rows[-1].id or 0 if rows else 0

    def since(self, last: int) -> list[Scan]:
        return [r for r in self.scans() if (r.id or 0) > last]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp(f"scans-{request.param}")
    with served_stack(tmp, proxied=True, database_url=_database_url(request, tmp), scan_queue=20) as (stack, url):
        site = Site(stack, url)
        site.brand, site.collection = stack.new_brand("Maison Scan", "SCAN")
        site.other_brand, site.other_collection = stack.new_brand("Other House", "OTHS")
        uid = b"\x04" + os.urandom(6)
        site.tag = Ntag424(uid, diversify.meta_read_key(MASTER), diversify.file_read_key(MASTER, uid))
        site.chip = HaloChip()
        site.twins = mint(stack, site.brand, [physical(f"SCAN-{i}") for i in range(3)])
        site.tokens = [t["token_id"] for t in site.twins]
        site.other_token = mint(stack, site.other_brand, [physical("OTHER-0", code="400638133394")])[0]["token_id"]
        r = stack.client.put("/v1/brands/me/nfc/master-key", json={"key": MASTER.hex()}, headers=site.brand)
        assert r.status_code == 200, r.text
        base = f"/v1/twins/{site.collection}/{site.tokens[0]}/nfc-tags"
        r = stack.client.post(base, json={"type": "ntag424", "uid": uid.hex()}, headers=site.brand)
        assert r.status_code == 201, r.text
        challenge = enrol_challenge(stack.runtime.chain.chain_id, site.collection, site.tokens[1])
        body = {"type": "halo", "address": site.chip.address, "signature": site.chip.sign_challenge(challenge.hex())}
        r = stack.client.post(f"/v1/twins/{site.collection}/{site.tokens[1]}/nfc-tags", json=body, headers=site.brand)
        assert r.status_code == 201, r.text
        yield site
