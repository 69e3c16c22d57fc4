"""The owner-event rollup (`owner_days`, SQLite and PostgreSQL) the indexer keeps equals a recount from
the indexed events after mints, a claim, resales, a first sale, a custodian appearing days later, a real
reorganisation and a rebuild; and the brand's numbers by day (the rollup) agree with its numbers by twin
(counted from the events). Migration 0020 fills the rollup from the events already indexed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from eth_account import Account
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from registry.brands.models import Brand, Collection
from registry.chain.anvil import Anvil
from registry.chain.client import mint_gas
from registry.db.engine import MIGRATIONS, make_engine, migrate, session_scope
from registry.events import owner_days
from registry.events.models import ChainEvent, OwnerDay
from registry.indexer.rebuild import rebuild
from registry.ipfs.store import add_directory
from registry.runtime import Runtime
from registry.twins.metadata import canonical
from tests.api.conftest import Stack, _database_url, physical, running_stack, stack_settings
from tests.conftest import postgres_server  # noqa: F401 - the fixture _database_url asks for


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _database_url(request, tmp_path)


@pytest.fixture
def stack(url: str, tmp_path: Path) -> Iterator[Stack]:
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(tmp_path, anvil, database_url=url)
    with running_stack(settings, anvil, with_worker=True, with_indexer=False) as running:
        yield running


def _rollup_of(engine: Engine) -> dict[tuple[str, date], tuple[int, int]]:
    with Session(engine) as s:
        return {(r.collection, r.day): (r.claims, r.resales) for r in s.exec(select(OwnerDay))}


def _rollup(runtime: Runtime) -> dict[tuple[str, date], tuple[int, int]]:
    return _rollup_of(runtime.engine)


def _recount(runtime: Runtime) -> dict[tuple[str, date], tuple[int, int]]:
    out = {}
    with Session(runtime.engine) as s:
        for address in s.exec(select(Collection.address)).all():
            query = owner_days.counted([address], owner_days.family(s, address), by_token=False)
            for n, collection, claims, resales in s.execute(query):
                if claims or resales:
                    out[(collection, owner_days.day_of(int(n)))] = (int(claims), int(resales))
    return out


def _checked(stack: Stack, headers: dict[str, str]) -> tuple[int, int]:
    """Indexes up to the head; asserts the rollup equals a recount and the numbers by day (rollup) sum
    to the numbers by twin (events); the brand's (claims, resales) today."""
    stack.runtime.indexer.catch_up()
    assert _rollup(stack.runtime) == _recount(stack.runtime)
    today = datetime.now(UTC).date()
    params = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=3)).isoformat()}
    sums = []
    for by in ("day", "twin", "collection"):
        r = stack.client.get("/v1/brands/me/scans/aggregates", params=params | {"by": by}, headers=headers)
        assert r.status_code == 200, r.text
        rows = r.json()["rows"]
        sums.append((sum(row["claims"] for row in rows), sum(row["resales"] for row in rows)))
    assert sums[0] == sums[1] == sums[2], sums
    return sums[0]


def _job(stack: Stack, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    job_id = stack.client.post("/v1/batches", json=body, headers=headers).json()["id"]
    for _ in range(600):
        job = stack.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("completed", "failed"):
            assert job["state"] == "completed", job
            return dict(job)
        time.sleep(0.05)
    raise TimeoutError(job_id)


def test_the_rollup_equals_a_recount_through_claims_resales_custodians_and_a_reorg(stack: Stack) -> None:
    headers, collection = stack.new_brand("Maison Jours", "JOUR")
    twins = [physical(f"DAY-{i}", code="400638133395") | {"claimable": True} for i in range(3)]
    job = _job(stack, headers, {"twins": twins})
    secrets = {
        row["token_id"]: row["secret"]
        for row in stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=headers).json()["secrets"]
    }
    claimed, kept, later = (t["token_id"] for t in job["twins"])
    assert _checked(stack, headers) == (0, 0)  # mints alone: nothing

    chain = stack.runtime.chain
    contract = chain.collection(collection)
    w3 = chain.w3
    holders = [Account.create().address for _ in range(4)]

    def claim(token: int, recipient: str) -> None:
        body = {"secret": secrets[token], "recipient": recipient}
        r = stack.client.post(f"/v1/twins/{collection}/{token}/claim", json=body)
        assert r.status_code == 200, r.text

    def move(token: int, sender: str, recipient: str) -> None:
        w3.provider.make_request("anvil_setBalance", [sender, hex(10**18)])  # type: ignore[arg-type]
        w3.provider.make_request("anvil_impersonateAccount", [sender])  # type: ignore[arg-type]
        w3.eth.wait_for_transaction_receipt(
            contract.functions.transferFrom(sender, recipient, token).transact({"from": sender})
        )

    claim(claimed, holders[0])
    move(claimed, holders[0], holders[1])  # a resale
    chain.sender.transact(contract.functions.transferFrom(chain.sender.address, holders[0], kept))  # a first sale
    assert _checked(stack, headers) == (1, 1)

    # Branch A: a claim and a resale the index sees, then the chain drops them.
    fork = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    claim(later, holders[3])
    move(claimed, holders[1], holders[3])
    assert _checked(stack, headers) == (2, 2)
    w3.provider.make_request("evm_revert", [fork])  # type: ignore[arg-type]
    chain.sender._nonce = None  # the node forgot branch A's transactions
    # Branch B: a longer chain with no event of the brand (nothing the new branch stores recounts the day).
    for _ in range(6):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert _checked(stack, headers) == (1, 1)

    move(claimed, holders[1], holders[2])  # a resale, until holders[1] turns out to be a custodian
    assert _checked(stack, headers) == (1, 2)
    # Two days later on chain (claims' deadlines are past: none after this): the mint's own events
    # fall on another day than that transfer.
    w3.provider.make_request("evm_increaseTime", [2 * 86_400])  # type: ignore[arg-type]
    batch = chain.next_batch_id(collection)
    files = {str(batch * 10_000 + 1): canonical({"name": "Stock", "twinmark": {"kind": "physical"}})}
    digest = add_directory(stack.runtime.store, files).cid.digest
    chain.sender.transact(chain.mint_fn(collection, batch, holders[1], 1, 0, digest, b"\0" * 32), gas=mint_gas(1))
    assert _checked(stack, headers) == (1, 1)  # holders[1] sold from stock two days before: a first sale

    before = _rollup(stack.runtime)
    rebuild(stack.runtime.indexer)
    assert _rollup(stack.runtime) == before


def test_the_upgrade_fills_the_rollup_from_the_indexed_events(url: str) -> None:
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0019")
    ours, theirs, loose = ("0x" + c * 40 for c in "abc")
    stock, elsewhere, a, b = ("0x" + c * 40 for c in "1234")  # stock: our custodian, named by `theirs`
    day = 20_000 * 86_400  # 2024-10-04
    events = [
        ("BatchMinted", theirs, 1, None, stock, day - 86_400),
        ("Transfer", ours, 1, stock, a, day),  # our first sale: `stock` is a custodian of our brand
        ("Transfer", ours, 2, elsewhere, a, day),  # a resale
        ("Claimed", ours, 3, None, a, day + 5),  # a claim and its own transfer
        ("Transfer", ours, 3, elsewhere, a, day + 5),
        ("Transfer", ours, 2, a, None, day + 86_400),  # a burn
        ("Transfer", loose, 9, a, b, day + 86_400),  # a collection no brand has: a resale all the same
    ]
    with session_scope(engine) as s:
        s.add(Brand(id="brand", name="Ours", chain_brand_id=1, admin_address="0x" + "0" * 40))
        s.flush()
        for address, name in ((ours, "A"), (theirs, "B")):  # the columns a 0019 database has, by hand
            s.execute(
                text(
                    "INSERT INTO collections (address, brand_id, name, symbol, next_batch_id, created_at)"
                    " VALUES (:a, 'brand', :n, :n, 1, :at)"
                ),
                {"a": address, "n": name, "at": datetime.now(UTC)},
            )
        for i, (name, address, token, sender, recipient, at) in enumerate(events):
            tx = "0x%064x" % (i if name != "Claimed" else i + 1)  # the claim shares its transfer's transaction
            s.add(
                ChainEvent(block_number=i, block_hash="0x%064x" % (1000 + int(tx, 16)), tx_hash=tx, log_index=i,
                           address=address, name=name, token_id=token, args="{}", block_time=at, sender=sender,
                           recipient=recipient)
            )  # fmt: skip
    migrate(engine)
    first = owner_days.day_of(day // 86_400)
    assert _rollup_of(engine) == {(ours, first): (1, 1), (loose, first + timedelta(days=1)): (0, 1)}
    with session_scope(engine) as s:
        owner_days.recount_all(s)
    assert _rollup_of(engine) == {(ours, first): (1, 1), (loose, first + timedelta(days=1)): (0, 1)}
