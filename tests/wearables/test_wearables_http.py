"""Wearables end to end on a real stack: profiles a brand chooses are enforced at mint (single twins,
batches, content updates) with every failed rule in words; a minted garment's metadata passes
Decentraland's own Wearable validator; a collection's linked-wearables mapping passes its Mappings
validator and covers exactly the collection's virtual twins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from registry.chain.layout import batch_of
from registry.jobs.models import Job
from tests.api.conftest import (
    Stack,
    _database_url,
    fresh_stack,
    physical,
    png,
    postgres_server,  # noqa: F401 - the session's PostgreSQL, for the parametrised fixture
)
from tests.assets.builders import Model, Part, build
from tests.wearables.dcl import dcl_validate, linked_wearable

MALE, FEMALE = (f"urn:decentraland:off-chain:base-avatars:{s}" for s in ("BaseMale", "BaseFemale"))
BOTH = ["decentraland", "roblox-layered-clothing"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp(f"wearables-{request.param}")
    database = _database_url(request, tmp)
    with fresh_stack(tmp, max_asset_bytes=5 * 1024 * 1024, database_url=database) as stack:
        headers, collection = stack.new_brand("Maison Wear", "WEAR")
        models = {
            # 1,000 visible + 2 x 200 cage triangles = 1,400: within Decentraland's 1,500 and Roblox's 4,000
            "caged": Model(
                parts=[Part("Jacket", 1000, 0), Part("Jacket_InnerCage", 200), Part("Jacket_OuterCage", 200)],
                materials=["Denim", "AvatarSkin_MAT"],
                textures=[(512, 512)],
            ),
            "female": Model(parts=[Part("Jacket", 900, 0)], materials=["Denim"], textures=[(256, 256)]),
            "heavy": Model(
                parts=[Part("Coat", 1600, 0), Part("Belt", 10, 1), Part("Buckle", 10, 2)],
                materials=["Wool", "Leather", "Brass"],
                textures=[(1024, 1024)],
            ),
            "huge": Model(parts=[Part("Cape", 100, 0)], padding=int(3.2 * 1024 * 1024)),
        }
        cids = {name: stack.upload(headers, build(m), f"{name}.glb") for name, m in models.items()}
        cids["preview"] = stack.upload(headers, png(41), "preview.png")
        yield stack, {"headers": headers, "collection": collection, **cids}


def garment(w: dict[str, Any], name: str, models: list[str], **extra: Any) -> dict[str, Any]:
    shapes = [["BaseMale"], [FEMALE]]
    return {
        "kind": "virtual",
        "name": name,
        "representations": [{"body_shapes": shapes[i], "model": w[m]} for i, m in enumerate(models)],
        "preview_image": w["preview"],
        "category": "upper_body",
    } | extra


def mint(stack: Stack, w: dict[str, Any], twin: dict[str, Any]) -> dict[str, Any]:
    r = stack.client.post("/v1/twins", json=twin, headers=w["headers"])
    assert r.status_code == 202, r.text
    job = stack.wait_job(w["headers"], r.json()["id"])
    assert job["state"] == "completed", job
    token = job["twins"][0]["token_id"]
    return {"token": token, "metadata": stack.client.get(f"/v1/twins/{w['collection']}/{token}").json()["metadata"]}


def jobs(stack: Stack) -> int:
    with Session(stack.runtime.engine) as s:
        return s.exec(select(func.count()).select_from(Job)).one()


def refused(stack: Stack, w: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    before = jobs(stack)
    r = stack.client.post(path, json=body, headers=w["headers"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert jobs(stack) == before  # nothing was queued
    return dict(r.json())


def test_a_garment_meeting_both_profiles_is_minted_in_decentralands_shape(world: tuple[Stack, dict[str, Any]]) -> None:
    """Both profiles chosen and met: minted; the metadata names Decentraland's fields exactly, says
    which profiles the garment meets, and a linked-wearable item built from it passes @dcl/schemas'
    Wearable validator (the old snake_case shape does not)."""
    stack, w = world
    twin = garment(
        w, "Trucker Jacket", ["caged"], hides=["hands"], replaces=["upper_body"], tags=["denim"], profiles=BOTH
    )
    twin["representations"] = [{"body_shapes": ["BaseMale", FEMALE], "model": w["caged"]}]
    minted = mint(stack, w, twin)
    wearable = minted["metadata"]["twinmark"]["wearable"]
    assert wearable["meets"] == BOTH
    assert wearable["category"] == "upper_body" and wearable["hides"] == ["hands"]
    assert wearable["replaces"] == ["upper_body"] and wearable["tags"] == ["denim"]
    [rep] = wearable["representations"]
    assert rep["bodyShapes"] == [MALE, FEMALE]
    assert rep["mainFile"] == f"ipfs://{w['caged']}" and rep["contents"] == [rep["mainFile"]]

    mappings = {"amoy": {w["collection"].lower(): [{"type": "single", "id": str(minted["token"])}]}}
    urn = f"urn:decentraland:amoy:collections-linked-wearables:twinmark:{w['collection'].lower()}:jacket"
    item = linked_wearable(minted["metadata"], mappings, urn)
    assert dcl_validate("Wearable", item) == (True, [])
    assert dcl_validate("WearableRepresentation", rep) == (True, [])

    old = {**item, "data": {**wearable, "representations": [{"body_shapes": ["BaseMale"], "main_file": "x"}]}}
    valid, errors = dcl_validate("Wearable", old)
    assert not valid and errors


def test_profiles_are_opt_in_and_meets_tells_the_truth(world: tuple[Stack, dict[str, Any]]) -> None:
    """No profile chosen: an over-budget garment is minted, and its metadata claims no profile; a
    garment without cages meets Decentraland only."""
    stack, w = world
    heavy = mint(stack, w, garment(w, "Heavy Coat", ["heavy"]))
    assert heavy["metadata"]["twinmark"]["wearable"]["meets"] == []
    plain = mint(stack, w, garment(w, "Plain Jacket", ["female"], profiles=["decentraland"]))
    assert plain["metadata"]["twinmark"]["wearable"]["meets"] == ["decentraland"]


def test_a_garment_failing_its_profiles_is_refused_with_every_reason(world: tuple[Stack, dict[str, Any]]) -> None:
    """Too many triangles for upper_body, 3 materials, a 1024 px texture, a file over 3 MB, no Roblox
    cages: one 422, each failed rule listed (twin, profile, message) and nothing queued."""
    stack, w = world
    body = garment(w, "Heavy Coat", ["heavy", "huge"], profiles=BOTH)
    problem = refused(stack, w, "/v1/twins", body)
    messages = [(f["twin"], f["profile"], f["message"]) for f in problem["failures"]]
    label = "twin 0 (Heavy Coat)"
    heavy, huge = w["heavy"], w["huge"]
    for expected in [
        ("decentraland", f"model {heavy} has 1,620 triangles; Decentraland allows 1,500 for upper_body"),
        ("decentraland", f"model {heavy} has 3 materials; Decentraland allows 2 (not counting AvatarSkin_MAT)"),
        ("decentraland", f"model {heavy} has a 1024x1024 px texture; Decentraland allows at most 512x512 px"),
        ("decentraland", f"model {huge} is 3.20 MB; Decentraland allows 3.00 MB per representation"),
        ("roblox-layered-clothing", f"model {heavy} has no inner cage; Roblox layered clothing needs a mesh"),
        ("roblox-layered-clothing", f"model {huge} has no outer cage; Roblox layered clothing needs a mesh"),
    ]:
        assert any(t == label and p == expected[0] and m.startswith(expected[1]) for t, p, m in messages), expected
    assert problem["detail"].startswith(f"{label} does not meet decentraland: model {heavy} has 1,620 triangles")


def test_a_batch_with_one_failing_garment_is_refused_whole(world: tuple[Stack, dict[str, Any]]) -> None:
    """Twin 1 of a batch chooses Roblox and has no cages: the whole batch is refused, naming twin 1."""
    stack, w = world
    body = {
        "twins": [
            garment(w, "Fine Jacket", ["caged"], profiles=BOTH),
            garment(w, "Bare Jacket", ["female"], profiles=["roblox-layered-clothing"]),
        ]
    }
    problem = refused(stack, w, "/v1/batches", body)
    assert {f["twin"] for f in problem["failures"]} == {"twin 1 (Bare Jacket)"}
    assert {f["profile"] for f in problem["failures"]} == {"roblox-layered-clothing"}


def test_categories_and_body_shapes_are_decentralands(world: tuple[Stack, dict[str, Any]]) -> None:
    """A category Decentraland does not have, a hidden slot it does not know, or a body shape twice:
    refused by the schema."""
    stack, w = world
    for change in (
        {"category": "jacket"},
        {"hides": ["shoulders"]},
        {"representations": [{"body_shapes": ["BaseMale", MALE], "model": w["caged"]}]},
        {"profiles": ["fortnite"]},
    ):
        r = stack.client.post("/v1/twins", json=garment(w, "X", ["caged"]) | change, headers=w["headers"])
        assert r.status_code == 422, (change, r.text)


def test_a_content_update_must_meet_the_chosen_profiles_too(world: tuple[Stack, dict[str, Any]]) -> None:
    """Replacing a garment's content with a model that fails the profile it chooses is refused."""
    stack, w = world
    minted = mint(stack, w, garment(w, "Update Me", ["female"]))
    body = garment(w, "Update Me", ["heavy"], profiles=["decentraland"])
    r = stack.client.put(f"/v1/twins/{w['collection']}/{minted['token']}/metadata", json=body, headers=w["headers"])
    assert r.status_code == 422, r.text
    assert r.json()["failures"][0]["message"].startswith(f"model {w['heavy']} has 1,620 triangles")


def test_the_linked_wearables_mapping_covers_exactly_the_virtual_twins(world: tuple[Stack, dict[str, Any]]) -> None:
    """After virtual twins in two batches and a physical twin: the document passes @dcl/schemas'
    Mappings validator, and the tokens it maps are exactly the collection's virtual twins."""
    stack, w = world
    c = w["collection"]
    batch = {"twins": [garment(w, f"Batch Jacket {i}", ["female"]) for i in range(3)]}
    job = stack.wait_job(w["headers"], stack.client.post("/v1/batches", json=batch, headers=w["headers"]).json()["id"])
    assert job["state"] == "completed"
    image = stack.upload(w["headers"], png(42))
    physical_job = stack.client.post("/v1/twins", json=physical("WEAR-1", image=image), headers=w["headers"])
    physical_token = stack.wait_job(w["headers"], physical_job.json()["id"])["twins"][0]["token_id"]

    r = stack.client.get(f"/v1/collections/{c.lower()}/linked-wearables", params={"network": "amoy"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["network"] == "amoy" and answer["collection"] == c
    assert dcl_validate("Mappings", answer["mappings"]) == (True, [])
    [(network, contracts)] = answer["mappings"].items()
    [(contract, mappings)] = contracts.items()
    assert (network, contract) == ("amoy", c.lower())
    covered: set[int] = set()
    for m in mappings:
        first, last = (int(m["id"]), int(m["id"])) if m["type"] == "single" else (int(m["from"]), int(m["to"]))
        covered |= set(range(first, last + 1))
    virtual = {t["token_id"] for t in job["twins"]}
    assert virtual <= covered and physical_token not in covered
    assert len(covered) == answer["tokens"]
    assert any(m["type"] == "range" and batch_of(int(m["from"])) == batch_of(min(virtual)) for m in mappings)
    assert all(stack.client.get(f"/v1/twins/{c}/{t}").json()["kind"] == "virtual" for t in covered)


def test_the_mapping_route_refuses_what_it_cannot_answer(world: tuple[Stack, dict[str, Any]]) -> None:
    """The test chain (31337) is not a Decentraland network unless one is named; an unknown network
    or collection, or a malformed address, is refused."""
    stack, w = world
    c = w["collection"]
    r = stack.client.get(f"/v1/collections/{c}/linked-wearables")
    assert r.status_code == 422 and "not a network Decentraland supports" in r.json()["detail"]
    assert stack.client.get(f"/v1/collections/{c}/linked-wearables?network=anvil").status_code == 422
    unknown = "0x" + "12" * 20
    assert stack.client.get(f"/v1/collections/{unknown}/linked-wearables?network=amoy").status_code == 404
    assert stack.client.get("/v1/collections/0x12/linked-wearables?network=amoy").status_code == 422
