"""GS1 identifiers (tests/data/gs1-vectors.json) and the metadata documents twins carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.errors import InvalidInput
from registry.twins import metadata
from registry.twins.gs1 import digital_link, normalize_gtin, validate_serial
from registry.twins.schemas import PhysicalTwinIn, VirtualTwinIn

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "gs1-vectors.json").read_text())


@pytest.mark.parametrize("gtin", VECTORS["valid_gtins"])
def test_valid_gtins(gtin: str) -> None:
    assert normalize_gtin(gtin) == gtin.zfill(14)


@pytest.mark.parametrize("gtin", VECTORS["invalid_gtins"])
def test_invalid_gtins(gtin: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_gtin(gtin)


@pytest.mark.parametrize("link", VECTORS["digital_links"], ids=lambda v: v["uri"])
def test_digital_links(link: dict[str, str]) -> None:
    base = link["uri"].split("/01/")[0]
    assert digital_link(base, link["gtin"], link["serial"], link.get("batch")) == link["uri"]


def test_serials_use_the_gs1_character_set() -> None:
    assert validate_serial("SN-0001/A") == "SN-0001/A"
    for bad in ("", "x" * 21, "caf\u00e9", "a b"):
        with pytest.raises(InvalidInput):
            validate_serial(bad)
    assert (
        digital_link("https://id.example.com", "4006381333931", "A/B")
        == "https://id.example.com/01/04006381333931/21/A%2FB"
    )


def test_physical_metadata_is_erc721_with_a_passport() -> None:
    twin = PhysicalTwinIn.model_validate(
        {
            "name": "Bag",
            "gtin": "4006381333931",
            "serial": "S1",
            "images": ["bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4"],
            "materials": [{"name": "Calfskin", "percent": 100}],
            "origin_country": "FR",
            "attributes": {"Colour": "Noir"},
        }
    )
    doc = metadata.physical(twin, brand="Maison", base_url="https://passports.example")
    assert doc["image"] == "ipfs://bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4"
    assert doc["external_url"] == "https://passports.example/01/04006381333931/21/S1"
    assert {"trait_type": "Material", "value": "Calfskin"} in doc["attributes"]
    assert {"trait_type": "Colour", "value": "Noir"} in doc["attributes"]
    assert doc["twinmark"]["passport"]["gtin"] == "04006381333931"
    assert metadata.canonical(doc) == metadata.canonical(json.loads(metadata.canonical(doc)))  # stable bytes
    assert metadata.referenced_cids(doc) == ["bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4"]


def test_virtual_metadata_speaks_vrm_and_decentraland_shapes() -> None:
    model, preview = (
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        "bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4",
    )
    twin = VirtualTwinIn.model_validate(
        {
            "kind": "virtual",
            "name": "Jacket",
            "representations": [{"body_shapes": ["BaseFemale"], "model": f"ipfs://{model}"}],
            "preview_image": preview,
            "license": {"avatarPermission": "everyone", "modification": "allowModification"},
        }
    )
    doc = metadata.virtual(twin, brand="Maison")
    assert doc["animation_url"] == f"ipfs://{model}"
    wearable = doc["twinmark"]["wearable"]
    assert wearable["representations"][0] == {
        "bodyShapes": ["urn:decentraland:off-chain:base-avatars:BaseFemale"],
        "mainFile": f"ipfs://{model}",
        "contents": [f"ipfs://{model}"],
        "overrideHides": [],
        "overrideReplaces": [],
        "contentType": "model/gltf-binary",
    }
    assert wearable["license"]["avatarPermission"] == "everyone"
    assert wearable["license"]["allowExcessivelyViolentUsage"] is False
    with pytest.raises(ValueError, match="avatarPermission"):
        VirtualTwinIn.model_validate({**twin.model_dump(), "license": {"avatarPermission": "anyone"}})
