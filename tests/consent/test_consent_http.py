"""Consent over the real API on a real stack (Anvil, SQLite and PostgreSQL): an owner signed in with
SIWE asks for the message, signs it with an EOA or through an ERC-1271 contract wallet, grants; the
brand exports JSON and CSV with exactly the consented fields; revocation deletes the details and the
next export has no row; the webhooks carry no contact detail; a PIPL cross-border consent is a
second signature. The twins' owners are set in the index as the indexer would."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlmodel import col, select

from registry.brands.models import Collection
from registry.chain.anvil import Anvil
from registry.chain.artifacts import load_hardhat
from registry.consent.models import Consent, ConsentExport
from registry.db.engine import session_scope
from registry.siwe.signatures import ERC6492_SUFFIX
from registry.staff.models import AuditEntry
from registry.twins.models import Twin
from registry.webhooks.models import Delivery
from tests.api.conftest import Stack, _database_url, running_stack, stack_settings
from tests.consent.conftest import CONTACT, twin
from tests.siwe.conftest import message_for, new_nonce, personal_sign, problem, sign_in

WALLET = Path(__file__).parents[2] / "artifacts/contracts/test/TestContractWallet.sol/TestContractWallet.json"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"consent-{request.param}")
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp, anvil, database_url=_database_url(request, tmp), webhook_allow_private_targets=True,
        siwe_failures_per_minute=1_000,
    )  # fmt: skip
    with running_stack(settings, anvil) as running:
        yield running


class Brand:
    def __init__(self, stack: Stack, name: str, country: str) -> None:
        self.stack = stack
        self.key, self.collection = stack.new_brand(name, name[:4].upper())
        self.id = _brand_id(stack, self.collection)
        recipient = {"recipient_name": f"{name} SAS", "recipient_contact": "privacy@maison.example"}
        r = stack.client.put("/v1/brands/me/consent/recipient", json=recipient | {"recipient_country": country},
                             headers=self.key)  # fmt: skip
        assert r.status_code == 200, r.text
        self.tokens = 0

    def give(self, owner: str) -> int:
        """A twin of this brand, held by `owner` in the index."""
        self.tokens += 1
        row = twin("brand-a", self.tokens, owner)
        row.collection, row.brand_id = self.collection, self.id
        with session_scope(self.stack.runtime.engine) as s:
            s.add(row)
        return self.tokens

    def export(self) -> list[dict[str, Any]]:
        r = self.stack.client.get("/v1/brands/me/consents", headers=self.key)
        assert r.status_code == 200, r.text
        return list(r.json()["rows"])


def _brand_id(stack: Stack, collection: str) -> str:
    with session_scope(stack.runtime.engine) as s:
        return s.exec(select(Collection.brand_id).where(Collection.address == collection)).one()


def session(stack: Stack, account: LocalAccount, address: str | None = None) -> dict[str, str]:
    r = sign_in(stack, account, **({"address": address} if address else {}))
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def ask(stack: Stack, me: dict[str, str], brand: Brand, fields: list[str], cn: bool = False) -> dict[str, Any]:
    body = {"brand_id": brand.id, "fields": fields, "purpose": "care", "mainland_china": cn}
    r = stack.client.post("/v1/consent/messages", json=body, headers=me)
    assert r.status_code == 201, r.text
    return dict(r.json())


def grant(stack: Stack, me: dict[str, str], text: str, signature: str, contact: dict[str, Any] | None) -> Any:
    return stack.client.post("/v1/consent", json={"message": text, "signature": signature, "contact": contact},
                             headers=me)  # fmt: skip


def test_grant_export_revoke_and_gone_from_the_next_export(stack: Stack) -> None:
    brand, other = Brand(stack, "Maison Lumen", "FR"), Brand(stack, "Other House", "FR")
    owner = Account.create()
    me = session(stack, owner)
    brand.give(owner.address)
    hook = stack.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "event_types":
                             ["consent.granted", "consent.revoked"]}, headers=brand.key)  # fmt: skip
    assert hook.status_code == 201, hook.text

    asked = ask(stack, me, brand, ["email", "preferences"])
    text = asked["message"]
    assert (
        "I further authorize the stated URI to perform the following actions on my behalf: (1) 'consent': 'share'"
        in text
    )
    assert f"for 'twinmark:brand:{brand.id}'." in text and '"' not in text.split("\n")[3]
    assert asked["notice"]["digest"] in json.dumps(asked) and "您" in asked["notice"]["zh"]
    contact = {"email": CONTACT["email"], "preferences": CONTACT["preferences"]}
    r = grant(stack, me, text, personal_sign(owner, text), contact)
    assert r.status_code == 201, r.text
    consent = r.json()
    assert consent["state"] == "current" and consent["signature_kind"] == "eoa" and consent["message"] == text

    rows = brand.export()
    assert [(x["address"], x["contact"]) for x in rows] == [(owner.address, contact)]
    assert other.export() == []  # another brand's key sees none of it
    table = list(csv.DictReader(io.StringIO(stack.client.get("/v1/brands/me/consents.csv", headers=brand.key).text)))
    assert table[0]["email"] == CONTACT["email"] and table[0]["phone"] == "" and table[0]["name"] == ""
    assert table[0]["preferences"].startswith("'=HYPERLINK")  # a formula is defused

    r = stack.client.delete(f"/v1/consent/{consent['id']}", headers=session(stack, Account.create()))
    problem(r, 404, "not-found")  # another owner's session cannot revoke it
    r = stack.client.delete(f"/v1/consent/{consent['id']}", headers=me)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert brand.export() == []
    mine = stack.client.get("/v1/consent/mine", headers=me).json()
    assert [(c["id"], c["state"], c["message"]) for c in mine] == [(consent["id"], "revoked", text)]
    with session_scope(stack.runtime.engine) as s:
        row = s.get(Consent, consent["id"])
        assert row is not None and row.sealed_contact is None and row.message == text  # proof kept, details gone
        logged = s.exec(select(ConsentExport).where(ConsentExport.brand_id == brand.id)).all()
        assert [(e.format, e.rows) for e in logged] == [("json", 1), ("csv", 1), ("json", 0)]
        audit = s.exec(select(AuditEntry).where(AuditEntry.brand_id == brand.id, AuditEntry.action == "owners.export"))
        assert len(audit.all()) == 3
        sent = s.exec(select(Delivery).where(col(Delivery.event_type).like("consent.%"))).all()
    assert sorted(d.event_type for d in sent) == ["consent.granted", "consent.revoked"]
    for d in sent:
        assert CONTACT["email"] not in d.payload and json.loads(d.payload)["data"]["address"] == owner.address


def test_a_contract_wallet_grants_with_erc1271_and_loses_it_when_it_sells(stack: Stack) -> None:

    chain, art = stack.runtime.chain, load_hardhat(WALLET)
    key = Account.create()
    deployed = chain.sender.transact(chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(key.address))
    wallet = deployed["contractAddress"]
    brand = Brand(stack, "Maison Walle", "FR")
    token = brand.give(wallet)
    me = session(stack, key, wallet)
    text = ask(stack, me, brand, ["name"])["message"]
    problem(grant(stack, me, text, personal_sign(Account.create(), text), {"name": "W"}), 403, "consent-signature")
    text = ask(stack, me, brand, ["name"])["message"]
    r = grant(stack, me, text, personal_sign(key, text), {"name": "Wallet Owner"})
    assert r.status_code == 201 and r.json()["signature_kind"] == "erc1271", r.text
    assert [x["contact"] for x in brand.export()] == [{"name": "Wallet Owner"}]
    with session_scope(stack.runtime.engine) as s:  # the wallet sells its only twin of the brand
        row = s.get(Twin, (brand.collection, token))
        assert row is not None
        row.owner = Account.create().address
    assert brand.export() == []
    assert stack.client.get("/v1/consent/mine", headers=me).json()[0]["state"] == "not-an-owner"


def test_a_resident_of_mainland_china_signs_a_separate_cross_border_consent(stack: Stack) -> None:
    abroad, at_home = Brand(stack, "Maison Loin", "FR"), Brand(stack, "Maison Pres", "CN")
    owner = Account.create()
    me = session(stack, owner)
    abroad.give(owner.address)
    at_home.give(owner.address)
    given = {}
    for brand in (abroad, at_home):
        text = ask(stack, me, brand, ["phone"], cn=True)["message"]
        r = grant(stack, me, text, personal_sign(owner, text), {"phone": CONTACT["phone"]})
        assert r.status_code == 201, r.text
        given[brand.id] = r.json()
    assert given[abroad.id]["state"] == "needs-cross-border" and abroad.export() == []
    assert given[at_home.id]["state"] == "current" and len(at_home.export()) == 1
    r = stack.client.post(f"/v1/consent/{given[at_home.id]['id']}/cross-border/message", headers=me)
    problem(r, 409, "consent-cross-border-not-needed")

    r = stack.client.post(f"/v1/consent/{given[abroad.id]['id']}/cross-border/message", headers=me)
    assert r.status_code == 201, r.text
    asked = r.json()
    assert "'consent': 'cross-border'" in asked["message"] and "第三十九条" in asked["notice"]["zh"]
    for item in ("Maison Loin SAS", "privacy@maison.example", "FR", "Categories", "Your rights"):
        assert item in asked["notice"]["en"]
    problem(grant(stack, me, asked["message"], personal_sign(owner, asked["message"]), {"phone": "+1 555 0100"}),
            422, "invalid-input")  # fmt: skip
    r = grant(stack, me, asked["message"], personal_sign(owner, asked["message"]), None)
    assert r.status_code == 201 and r.json()["kind"] == "cross-border", r.text
    rows = abroad.export()
    assert [(x["cross_border"], x["contact"]) for x in rows] == [(True, {"phone": CONTACT["phone"]})]
    stack.client.delete(f"/v1/consent/{r.json()['id']}", headers=me)  # revoking only the transfer
    assert abroad.export() == []


def test_a_consent_message_does_not_open_a_session(stack: Stack) -> None:
    brand = Brand(stack, "Maison Porte", "FR")
    owner = Account.create()
    me = session(stack, owner)
    brand.give(owner.address)
    text = ask(stack, me, brand, ["email"])["message"]
    r = stack.client.post("/v1/siwe/verify", json={"message": text, "signature": personal_sign(owner, text)})
    problem(r, 401, "siwe-not-a-sign-in")
    r = grant(stack, me, text, personal_sign(owner, text), {"email": CONTACT["email"]})
    assert r.status_code == 201, r.text  # the refused sign-in did not spend the consent's nonce


def test_a_wallet_not_yet_deployed_grants_with_an_eip6492_signature(stack: Stack) -> None:
    chain = stack.runtime.chain
    art = load_hardhat(WALLET.parents[1] / "TestWalletFactory.sol" / "TestWalletFactory.json")
    made = chain.sender.transact(chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor())
    factory = chain.w3.eth.contract(address=made["contractAddress"], abi=art.abi)
    key, salt = Account.create(), os.urandom(32)
    wallet = factory.functions.addressOf(key.address, salt).call()
    deploy = bytes.fromhex(factory.functions.deploy(key.address, salt)._encode_transaction_data()[2:])

    def wrapped(text: str) -> str:
        inner = bytes.fromhex(personal_sign(key, text)[2:])
        return "0x" + (encode(["address", "bytes", "bytes"], [factory.address, deploy, inner]) + ERC6492_SUFFIX).hex()

    signin = message_for(new_nonce(stack), wallet).text
    r = stack.client.post("/v1/siwe/verify", json={"message": signin, "signature": wrapped(signin)})
    assert r.status_code == 201 and r.json()["signature_kind"] == "erc6492", r.text
    me = {"Authorization": f"Bearer {r.json()['token']}"}
    brand = Brand(stack, "Maison Futur", "FR")
    brand.give(wallet)
    text = ask(stack, me, brand, ["language"])["message"]
    r = grant(stack, me, text, wrapped(text), {"language": "fr"})
    assert r.status_code == 201 and r.json()["signature_kind"] == "erc6492", r.text
    assert chain.w3.eth.get_code(wallet) == b""  # checked inside eth_call: nothing deployed
    assert [x["contact"] for x in brand.export()] == [{"language": "fr"}]
