"""The brand's numbers beyond scans (SQLite and PostgreSQL): claims and resales from the indexed chain
events of its collections, alerts from the alerts table, by day, collection and twin; by country and
channel they are null (neither has one). A claim's own transfer, a mint, and the brand's first sale out
of its stock are not resales; another brand's events and alerts never count."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from sqlmodel import select

from registry.alerts.models import Alert
from registry.db.engine import session_scope
from registry.events.models import ChainEvent
from tests.api.conftest import physical
from tests.scans.conftest import Site


def _numbers(site: Site, headers: dict[str, str], by: str) -> dict[str, dict[str, Any]]:
    today = datetime.now(UTC).date()
    params = {"by": by, "from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    r = site.stack.client.get("/v1/brands/me/scans/aggregates", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return {row["key"]: row for row in r.json()["rows"]}


def _indexed(site: Site, tx_hash: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_scope(site.stack.runtime.engine) as s:
            if s.exec(select(ChainEvent).where(ChainEvent.tx_hash == tx_hash)).first() is not None:
                return
        time.sleep(0.1)
    raise AssertionError(f"{tx_hash} was not indexed")


def test_claims_resales_and_alerts_by_day_collection_and_twin(site: Site) -> None:
    stack = site.stack
    headers, collection = stack.new_brand("Maison Ventes", "VENT")
    twins = [physical(f"SALE-{i}", code="400638133395") | {"claimable": True} for i in range(2)]
    job = stack.wait_job(headers, stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()["id"])
    assert job["state"] == "completed", job
    r = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=headers)
    secrets = {row["token_id"]: row["secret"] for row in r.json()["secrets"]}
    sold, kept = (t["token_id"] for t in job["twins"])
    brand_id = stack.client.get("/v1/brands/me", headers=headers).json()["id"]

    buyer, second = Account.create().address, Account.create().address
    r = stack.client.post(f"/v1/twins/{collection}/{sold}/claim", json={"secret": secrets[sold], "recipient": buyer})
    assert r.status_code == 200, r.text
    chain = stack.runtime.chain
    contract = chain.collection(collection)
    w3 = chain.w3
    w3.provider.make_request("anvil_setBalance", [buyer, hex(10**18)])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_impersonateAccount", [buyer])  # type: ignore[arg-type]
    resold = contract.functions.transferFrom(buyer, second, sold).transact({"from": buyer})
    w3.eth.wait_for_transaction_receipt(resold)
    # The brand selling from its stock by a plain transfer: a first sale, not a resale.
    first_sale = chain.sender.transact(contract.functions.transferFrom(chain.sender.address, buyer, kept))
    _indexed(site, resold.to_0x_hex())
    _indexed(site, "0x" + bytes(first_sale["transactionHash"]).hex())

    other_brand = str(stack.client.get("/v1/brands/me", headers=site.other_brand).json()["id"])
    with session_scope(stack.runtime.engine) as s:
        for brand, state, twin in (
            (brand_id, "open", (collection, sold)),
            (brand_id, "resolved", (collection, sold)),  # raised today too: it counts
            (other_brand, "open", (site.other_collection, site.other_token)),
        ):
            subject = f"{twin[0]}:{twin[1]}"
            s.add(
                Alert(brand_id=brand, rule="scan-count", subject=subject, state=state, collection=twin[0],
                      token_id=twin[1], facts="{}")
            )  # fmt: skip

    today = datetime.now(UTC).date().isoformat()
    by_day = _numbers(site, headers, "day")
    assert {k: (v["claims"], v["resales"], v["alerts"]) for k, v in by_day.items()} == {today: (1, 1, 2)}
    assert by_day[today]["scans"] == 0  # a day with owner events and no scan still has its row
    by_twin = _numbers(site, headers, "twin")
    assert (by_twin[f"{collection}/{sold}"]["claims"], by_twin[f"{collection}/{sold}"]["resales"]) == (1, 1)
    assert by_twin[f"{collection}/{sold}"]["alerts"] == 2 and f"{collection}/{kept}" not in by_twin
    assert {k: v["claims"] for k, v in _numbers(site, headers, "collection").items()} == {collection: 1}
    for by in ("country", "channel"):
        assert all(v["claims"] is None and v["alerts"] is None for v in _numbers(site, headers, by).values())

    # The other brand: none of this brand's numbers; its own alert only
    theirs = _numbers(site, site.other_brand, "collection")
    assert collection not in theirs
    assert theirs[site.other_collection]["alerts"] == 1 and theirs[site.other_collection]["claims"] == 0
