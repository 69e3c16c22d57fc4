"""A migrated database (SQLite and PostgreSQL) with two brands, a twin each, and helpers to record scans
as the scan log would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from registry.brands.models import Brand, Collection
from registry.db.engine import make_engine, migrate, session_scope
from registry.scans.models import Scan
from registry.twins.models import Twin
from tests.api.conftest import stack  # noqa: F401 - the API stack (SQLite and PostgreSQL) of test_api_recheck
from tests.conftest import postgres_server  # noqa: F401 - the one PostgreSQL server of the session

NOW = datetime.now(UTC).replace(microsecond=0)
A_COLLECTION = "0x" + "aa" * 20
B_COLLECTION = "0x" + "bb" * 20
TOKEN = 10001


def _url(request: pytest.FixtureRequest, tmp: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'alerts.db'}"
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"alerts_{tmp.name.replace('-', '_').lower()}"
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(_url(request, tmp_path))
    migrate(engine)
    with session_scope(engine) as s:
        for brand_id, chain_id, collection in (("brand-a", 1, A_COLLECTION), ("brand-b", 2, B_COLLECTION)):
            s.add(Brand(id=brand_id, name=brand_id, chain_brand_id=chain_id, admin_address="0x" + "01" * 20))
            s.flush()
            s.add(Collection(address=collection, brand_id=brand_id, name=brand_id, symbol="AB"))
            s.add(twin(collection, brand_id))
    yield engine
    engine.dispose()


def twin(collection: str, brand_id: str, token_id: int = TOKEN, **state: Any) -> Twin:
    return Twin(
        collection=collection,
        token_id=token_id,
        brand_id=brand_id,
        batch_id=1,
        kind="physical",
        name="Sac",
        metadata_cid="bafy",
        dir_cid="bafy",
        token_uri=f"ipfs://bafy/{token_id}",
        tx_hash="0x00",
        block_number=1,
        metadata_json=json.dumps({"name": "Sac"}),
        **({"owner": "0x" + "02" * 20} | state),
    )


def record(s: Session, collection: str | None, brand_id: str | None, rows: list[dict[str, Any]]) -> list[Scan]:
    """Stores scans (each a dict of Scan fields; `minutes_ago` sets `at`) and returns them with ids."""
    out = []
    for row in rows:
        values = dict(row)
        at = NOW - timedelta(minutes=values.pop("minutes_ago", 0))
        token = values.pop("token_id", TOKEN if collection else None)
        scan = Scan(at=at, brand_id=brand_id, collection=collection, token_id=token, **values)
        s.add(scan)
        out.append(scan)
    s.flush()
    return out
