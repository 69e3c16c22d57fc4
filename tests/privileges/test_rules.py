"""Every eligibility rule, as a table, over real SQLite and PostgreSQL: twin rows as the indexer writes
them (owner, status, claim flag, owner_since, last_serviced_at, wearable tags), privileges as a brand
defines them, and the evaluation of one owner (`registry.privileges.eligibility.evaluate`)."""

# ruff: noqa: E501 - the table of cases reads best one case a line

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import Engine, insert

from registry.brands.models import Brand, Collection
from registry.db.engine import make_engine, migrate, session_scope
from registry.privileges import service
from registry.privileges.eligibility import carried, evaluate
from registry.privileges.schemas import PrivilegeIn
from registry.twins.models import Twin
from registry.twins.projection import set_tags
from tests.api.conftest import _database_url, gtin
from tests.conftest import postgres_server  # noqa: F401 - the session's one server

DAY = 86_400
NOW = int(time.time())
BAG = gtin("400638133393")
SHOE = gtin("400638133394")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp = tmp_path_factory.mktemp(f"rules-{request.param}")
    made = make_engine(_database_url(request, tmp))
    migrate(made)
    yield made
    made.dispose()


def _brand(engine: Engine) -> tuple[str, str, str]:
    """A brand with two collections."""
    brand = str(uuid.uuid4())
    a, b = Account.create().address, Account.create().address
    with session_scope(engine) as s:
        s.add(Brand(id=brand, name="B", chain_brand_id=int(uuid.uuid4().int % 2**62), admin_address=a))
        s.flush()
        s.add_all(
            [
                Collection(address=a, brand_id=brand, name="A", symbol="A"),
                Collection(address=b, brand_id=brand, name="B", symbol="B"),
            ]
        )
    return brand, a, b


def _twin(engine: Engine, collection: str, token: int, owner: str, brand: str, **facts: Any) -> None:
    tags = facts.pop("tags", None)
    document = json.dumps({"name": "t", "twinmark": {"wearable": {"tags": tags or []}}})
    row = {
        "collection": collection, "token_id": token, "brand_id": brand, "batch_id": 1, "kind": "physical",
        "name": f"twin {token}", "gtin": BAG, "metadata_cid": "b", "dir_cid": "b", "token_uri": "ipfs://b",
        "tx_hash": "0x", "block_number": 1, "metadata_json": document, "owner": owner, "status": 0,
        "claimed": True, "burned": False, "owner_since": NOW - 400 * DAY, "last_serviced_at": NOW - 10 * DAY,
    } | facts  # fmt: skip
    with session_scope(engine) as s:
        s.execute(insert(Twin), [row])
        if tags:
            set_tags(s, [(collection, token, document)])


# (rules and window, the twin's facts, how many more such twins the owner holds, the reasons expected;
# None: the twin does not carry the privilege at all)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], int, list[str] | None]] = [
    ("defaults: claimed, not lost", {}, {}, 0, []),
    ("unclaimed twin (in custody)", {}, {"claimed": False}, 0, ["not-claimed"]),
    ("claim not required", {"rules": {"claimed": False}}, {"claimed": False}, 0, []),
    ("reported lost", {}, {"status": 1}, 0, ["lost-or-stolen"]),
    ("reported stolen", {}, {"status": 2}, 0, ["lost-or-stolen"]),
    ("stolen allowed by the brand", {"rules": {"not_lost_or_stolen": False}}, {"status": 2}, 0, []),
    ("owned long enough", {"rules": {"min_days_owned": 30}}, {"owner_since": NOW - 31 * DAY}, 0, []),
    ("owned too recently", {"rules": {"min_days_owned": 30}}, {"owner_since": NOW - 29 * DAY}, 0, ["owned-too-recently"]),
    ("never changed hands", {"rules": {"min_days_owned": 1}}, {"owner_since": None}, 0, ["owned-too-recently"]),
    ("serviced within a year", {"rules": {"serviced_within_days": 365}}, {"last_serviced_at": NOW - 100 * DAY}, 0, []),
    ("serviced too long ago", {"rules": {"serviced_within_days": 365}}, {"last_serviced_at": NOW - 400 * DAY}, 0, ["not-serviced"]),
    ("never serviced", {"rules": {"serviced_within_days": 365}}, {"last_serviced_at": None}, 0, ["not-serviced"]),
    ("holds at least three", {"rules": {"min_held": 3}}, {}, 2, []),
    ("holds only two of three", {"rules": {"min_held": 3}}, {}, 1, ["holds-too-few"]),
    ("GTIN in the list", {"rules": {"gtins": [BAG]}}, {}, 0, []),
    ("GTIN not in the list", {"rules": {"gtins": [SHOE]}}, {}, 0, None),
    ("tag carried", {"rules": {"tags": ["VIP", "runway"]}}, {"tags": ["Runway"]}, 0, []),
    ("tag missing", {"rules": {"tags": ["runway"]}}, {"tags": ["street"]}, 0, None),
    ("collection in scope", {"rules": {"collections": ["A"]}}, {}, 0, []),
    ("collection out of scope", {"rules": {"collections": ["B"]}}, {}, 0, None),
    ("not started", {"starts_at": NOW + DAY}, {}, 0, ["not-started"]),
    ("ended", {"starts_at": NOW - 2 * DAY, "ends_at": NOW - DAY}, {}, 0, ["ended"]),
    ("several gates fail", {"rules": {"min_days_owned": 30, "serviced_within_days": 30}}, {"claimed": False, "owner_since": NOW, "last_serviced_at": None}, 0, ["not-claimed", "owned-too-recently", "not-serviced"]),
]  # fmt: skip


@pytest.mark.parametrize(("what", "definition", "facts", "more", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule(
    engine: Engine, what: str, definition: dict[str, Any], facts: dict[str, Any], more: int, expected: list[str] | None
) -> None:
    brand, a, b = _brand(engine)
    owner = Account.create().address
    rules = dict(definition.get("rules", {}))
    if "collections" in rules:
        rules["collections"] = [{"A": a, "B": b}[x] for x in rules["collections"]]
    body: dict[str, Any] = {"kind": "redeem_once", "name": {"en": what, "zh": what}, "rules": rules}
    for key in ("starts_at", "ends_at"):
        if key in definition:
            body[key] = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(definition[key]))}Z"
    with session_scope(engine) as s:
        pid = service.create(s, brand, PrivilegeIn.model_validate(body)).id
    _twin(engine, a, 1, owner, brand, **facts)
    for i in range(more):
        _twin(engine, a, 100 + i, owner, brand)
    with session_scope(engine) as s:
        twin = next(t for t in evaluate(s, owner, NOW) if t.held.facts.token_id == 1)
        verdict = next((v for v in twin.verdicts if v.privilege.id == pid), None)
        page = [p.id for p in carried(s, a, 1, NOW)]
    if expected is None:
        assert verdict is None and pid not in page
    else:
        assert verdict is not None and verdict.failed == expected
        assert (pid in page) is (what != "ended")  # the page lists what the twin carries, not what ended


def test_a_burned_twin_and_another_owners_twin_count_for_nothing(engine: Engine) -> None:
    brand, a, _ = _brand(engine)
    owner = Account.create().address
    with session_scope(engine) as s:
        pid = service.create(
            s,
            brand,
            PrivilegeIn.model_validate({"kind": "ongoing", "name": {"en": "x", "zh": "x"}, "rules": {"min_held": 2}}),
        ).id
    _twin(engine, a, 1, owner, brand)
    _twin(engine, a, 2, owner, brand, burned=True)
    _twin(engine, a, 3, Account.create().address, brand)
    with session_scope(engine) as s:
        held = evaluate(s, owner, NOW)
    assert [t.held.facts.token_id for t in held] == [1]
    assert [v.failed for v in held[0].verdicts if v.privilege.id == pid] == [["holds-too-few"]]


def test_rules_are_validated() -> None:
    from pydantic import ValidationError

    from registry.privileges.rules import Rules

    for bad in ({"gtins": ["4006381333932"]}, {"min_held": 0}, {"collections": ["0x12"]}, {"unknown": 1}):
        with pytest.raises(ValidationError):
            Rules.model_validate(bad)
    assert Rules.model_validate({"tags": [" VIP ", "vip"]}).tags == ["vip"]
