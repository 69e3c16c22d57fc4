"""A stack whose indexer the tests drive (`index()`), so each test decides what the index has seen:
two brands, virtual and physical twins claimed by a player who holds gas (Anvil's account #0)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.chain.anvil import Anvil
from tests.api.conftest import (
    OPERATOR,
    Stack,
    _database_url,
    glb,
    physical,
    png,
    running_stack,
    stack_settings,
)
from tests.api.test_lifecycle import sign

PLAYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Anvil account #0


def virtual(name: str, model: str, preview: str, *, category: str, female: str | None = None) -> dict[str, Any]:
    representations = [{"body_shapes": ["BaseMale"] + ([] if female else ["BaseFemale"]), "model": model}]
    if female:
        representations.append({"body_shapes": ["BaseFemale"], "model": female})
    return {
        "kind": "virtual",
        "name": name,
        "representations": representations,
        "preview_image": preview,
        "category": category,
        "claimable": True,
    }


@dataclass
class World:
    stack: Stack
    a: dict[str, str]
    b: dict[str, str]
    col_a: str
    col_b: str
    brand_b: str
    player: LocalAccount
    models: dict[str, bytes]  # cid -> GLB bytes
    preview: str
    owned: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # the player's, as minted
    secrets: dict[tuple[str, int], str] = field(default_factory=dict)  # unclaimed twins' secrets

    @property
    def client(self) -> Any:
        return self.stack.client

    def index(self) -> None:
        self.stack.runtime.indexer.catch_up()

    def mint(self, headers: dict[str, str], twins: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = self.client.post("/v1/batches", json={"twins": twins}, headers=headers)
        assert r.status_code == 202, r.text
        job = self.stack.wait_job(headers, r.json()["id"])
        assert job["state"] == "completed", job
        if any(t.get("claimable") for t in twins):
            rows = self.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=headers).json()["secrets"]
            self.secrets |= {(row["contract"], row["token_id"]): row["secret"] for row in rows}
        return list(job["twins"])

    def claim(self, contract: str, token_id: int, recipient: str) -> None:
        body = {"secret": self.secrets.pop((contract, token_id)), "recipient": recipient}
        r = self.client.post(f"/v1/twins/{contract}/{token_id}/claim", json=body)
        assert r.status_code == 200, r.text

    def resell(self, owner: LocalAccount, contract: str, token_id: int, to: str) -> None:
        """The owner's signed transfer, relayed by the service."""
        base = f"/v1/twins/{contract}/{token_id}/transfers"
        typed = self.client.get(base + "/typed-data", params={"to": to}).json()["typed_data"]
        m = typed["message"]
        body = {"to": to, "nonce": m["nonce"], "deadline": m["deadline"], "signature": sign(owner, typed)}
        r = self.client.post(base, json=body)
        assert r.status_code == 200, r.text

    def listing(self, owner: str, **params: Any) -> dict[str, Any]:
        r = self.client.get(f"/v1/owners/{owner}/twins", params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def all_pages(self, owner: str, **params: Any) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            page = self.listing(owner, **params, **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


def keys(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(i["contract"], i["token_id"]) for i in items]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"wardrobe-{request.param}")
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp,
        anvil,
        database_url=_database_url(request, tmp),
        indexer_in_process=False,
        webhook_allow_private_targets=True,
        webhook_backoff_seconds=0.1,
    )
    with running_stack(settings, anvil) as stack:
        a, col_a = stack.new_brand("Maison Wardrobe", "MWAR")
        b, col_b = stack.new_brand("Atelier Other", "AOTH")
        brand_b = stack.client.get("/v1/brands/me", headers=b).json()["id"]
        models = {}
        for i in range(3):
            data = glb({"asset": {"version": "2.0", "generator": f"wardrobe-{i}"}}, bin_chunk=bytes(8 * (i + 1)))
            models[stack.upload(a, data, "m.glb")] = data
        model_b = glb({"asset": {"version": "2.0", "generator": "other"}})
        cid_b = stack.upload(b, model_b, "b.glb")
        models[cid_b] = model_b
        m0, m1, m2 = list(models)[:3]
        preview = stack.upload(a, png(7), "p.png")
        preview_b = stack.upload(b, png(8), "p.png")
        w = World(stack, a, b, col_a, col_b, brand_b, Account.from_key(PLAYER_KEY), models, preview)
        bag = w.mint(a, [physical("W-1", code="871234567892") | {"claimable": True}])[0]
        twins = w.mint(
            a,
            [
                virtual("Jacket", m0, preview, category="upper_body", female=m1)
                | {"physical_twin": {"contract": col_a, "token_id": bag["token_id"]}},
                virtual("Sneakers", m2, preview, category="feet"),
                virtual("Hat", m2, preview, category="hat"),
                virtual("Spare", m2, preview, category="feet"),
                virtual("Gift", m2, preview, category="feet"),
            ],
        )
        other = w.mint(b, [virtual("Scarf", cid_b, preview_b, category="upper_body")])
        for t in [bag, *twins[:3], *other]:
            w.claim(t["contract"], t["token_id"], w.player.address)
            w.owned[(t["contract"], t["token_id"])] = t
        w.index()
        yield w


def wait(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


__all__ = ["OPERATOR", "World", "keys", "wait", "world"]
