"""A migrated database (SQLite and PostgreSQL, one per module) with two brands and their recipients,
twins whose owners the tests set as the indexer would, and owners with EOA keys who ask for consent
messages, sign them and grant them through the service (no chain: EOA signatures need none)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, update
from sqlmodel import col

from registry.brands.models import Brand, Collection
from registry.consent import service
from registry.consent.models import Consent
from registry.db.engine import make_engine, migrate, session_scope
from registry.settings import Settings
from registry.twins.models import Twin
from tests.conftest import postgres_server  # noqa: F401 - the one PostgreSQL server of the session

CHAIN_ID = 31337
SERVER_KEY = "consent-test-server-key"
BRANDS = {"brand-a": ("Maison A", "0x" + "aa" * 20, "FR"), "brand-b": ("Maison B", "0x" + "bb" * 20, "CN")}
CONTACT = {
    "name": "Li Wei",
    "email": "li.wei@example.com",
    "phone": "+86 138 0013 8000",
    "language": "zh-CN",
    "preferences": ["=HYPERLINK(1)", "care"],
}


def _url(request: pytest.FixtureRequest, tmp: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'consent.db'}"
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"consent_{tmp.name.replace('-', '_').lower()}"
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)


def twin(brand_id: str, token_id: int, owner: str | None) -> Twin:
    return Twin(
        collection=BRANDS[brand_id][1],
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
        metadata_json="{}",
        owner=owner,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(_url(request, tmp_path_factory.mktemp(f"consent-{request.param}")))
    migrate(engine)
    with session_scope(engine) as s:
        for n, (brand_id, (name, collection, country)) in enumerate(BRANDS.items()):
            s.add(Brand(id=brand_id, name=name, chain_brand_id=n + 1, admin_address="0x" + "01" * 20))
            s.flush()
            s.add(Collection(address=collection, brand_id=brand_id, name=name, symbol="C"))
            service.set_profile(s, brand_id, f"{name} SAS", f"privacy@{brand_id}.example", country)
    yield engine
    engine.dispose()


SETTINGS = Settings(public_url="https://twinmark.example", consent_messages_per_minute=100_000)


def sign(account: LocalAccount, text: str) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), account.key).signature).hex()


@dataclass
class Owners:
    """Owners acting on one database through the service, at a time the test chooses."""

    engine: Engine
    now: float

    def hold(self, brand_id: str, token_id: int, owner: str | None) -> None:
        """The indexer's view: twin `token_id` of the brand is now `owner`'s (created if new)."""
        with session_scope(self.engine) as s:
            found = s.execute(
                update(Twin)
                .where(col(Twin.collection) == BRANDS[brand_id][1], col(Twin.token_id) == token_id)
                .values(owner=owner)
            )
            if found.rowcount == 0:  # type: ignore[attr-defined]
                s.add(twin(brand_id, token_id, owner))

    def message(self, who: LocalAccount, brand_id: str, fields: list[str], cn: bool = False) -> str:
        with session_scope(self.engine) as s:
            built = service.share_message(
                s, SETTINGS, CHAIN_ID, who.address, brand_id=brand_id, fields=fields, purpose="care",
                mainland_china=cn, now=self.now,
            )  # fmt: skip
            return built.message.text

    def grant(self, who: LocalAccount, text: str, contact: dict[str, Any] | None, signature: str | None = None) -> str:
        with session_scope(self.engine) as s:
            row = service.grant(
                s, SETTINGS, None, CHAIN_ID, SERVER_KEY, who.address, text, signature or sign(who, text), contact,
                now=self.now,
            )  # fmt: skip
            return row.id

    def share(self, who: LocalAccount, brand_id: str, fields: list[str], cn: bool = False) -> str:
        text = self.message(who, brand_id, fields, cn)
        return self.grant(who, text, {f: CONTACT[f] for f in fields})

    def cross_border(self, who: LocalAccount, parent: str) -> str:
        with session_scope(self.engine) as s:
            text = service.cross_border_message(s, SETTINGS, CHAIN_ID, who.address, parent, self.now).message.text
        return self.grant(who, text, None)

    def revoke(self, who: LocalAccount, consent_id: str) -> None:
        with session_scope(self.engine) as s:
            service.revoke(s, who.address, consent_id, self.now)

    def consent(self, consent_id: str) -> Consent:
        with session_scope(self.engine) as s:
            row = s.get(Consent, consent_id)
            assert row is not None
            s.expunge(row)
            return row


def fields_of(row: Consent) -> list[str]:
    return list(json.loads(row.fields))
