"""EU Digital Product Passport fields and NFC tag bindings in a physical twin's content."""

from __future__ import annotations

import hashlib

import pytest
from eth_utils.address import to_checksum_address
from pydantic import TypeAdapter, ValidationError

from registry.twins.metadata import physical
from registry.twins.schemas import PhysicalTwinIn, TwinIn

BASE = {"kind": "physical", "name": "Tote", "gtin": "4006381333931", "serial": "SN-1"}
DPP = {
    "category": "leather",
    "fibre_composition": [
        {"fibre": "bovine leather", "percent": 80},
        {"fibre": "cotton", "percent": 20, "recycled": True},
    ],
    "recycled_content_percent": 20,
    "origin_steps": [
        {"step": "tanning", "country": "IT", "facility": "Conceria Uno"},
        {"step": "assembly", "country": "FR"},
    ],
    "care_instructions": ["Wipe with a dry cloth"],
    "repair": {"instructions": "Return to any boutique", "service_url": "https://example.com/repair"},
    "substances_of_concern": [{"name": "Chromium(VI)", "cas": "18540-29-9", "concentration_percent": 0.0003}],
}


def twin(**extra: object) -> PhysicalTwinIn:
    parsed = TypeAdapter(TwinIn).validate_python(BASE | extra)
    assert isinstance(parsed, PhysicalTwinIn)
    return parsed


def test_dpp_fields_are_published_in_the_passport() -> None:
    doc = physical(twin(dpp=DPP), brand="Maison", base_url="https://t.example")
    dpp = doc["twinmark"]["passport"]["dpp"]
    assert dpp["origin_steps"][0] == {"step": "tanning", "country": "IT", "facility": "Conceria Uno"}
    assert dpp["substances_of_concern"][0]["cas"] == "18540-29-9"
    assert dpp["fibre_composition"][1] == {"fibre": "cotton", "percent": 20.0, "recycled": True}


def test_a_twin_without_dpp_keeps_its_content_bytes() -> None:
    # Optional fields are left out when absent, so content minted before them keeps its CID.
    assert "dpp" not in physical(twin(), brand="Maison", base_url="https://t.example")["twinmark"]["passport"]


@pytest.mark.parametrize(
    "bad",
    [
        {"fibre_composition": [{"fibre": "wool", "percent": 60}]},  # does not add up to 100 %
        {"substances_of_concern": [{"name": "x", "cas": "not-a-cas"}]},
        {"origin_steps": [{"step": "assembly", "country": "France"}]},
        {"repair": {"service_url": "http://insecure.example"}},
        {"unknown": 1},
    ],
)
def test_bad_dpp_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        twin(dpp=bad)


def test_tag_bindings_publish_uid_hash_and_chip_address() -> None:
    doc = physical(
        twin(nfc=[{"type": "ntag424", "uid": "04de5f1eacc040"}, {"type": "halo", "address": "0x" + "ab" * 20}]),
        brand="Maison",
        base_url="https://t.example",
    )
    ntag, halo = doc["twinmark"]["passport"]["nfc"]
    assert ntag == {"type": "ntag424", "uid_sha256": hashlib.sha256(bytes.fromhex("04de5f1eacc040")).hexdigest()}
    assert halo["address"] == to_checksum_address("0x" + "ab" * 20) != "0x" + "ab" * 20


@pytest.mark.parametrize(
    "bad",
    [{"type": "ntag424"}, {"type": "halo", "uid": "04de5f1eacc040"}, {"type": "ntag424", "uid": "04de"}],
)
def test_bad_tag_bindings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        twin(nfc=[bad])
