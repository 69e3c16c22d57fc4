"""ERC-721 / OpenSea metadata JSON, with the passport or wearable fields under `twinmark`.

Documents are serialised canonically (sorted keys, no spaces), so the same input always yields
the same bytes and therefore the same CID: a resumed mint rebuilds exactly the directory it began.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from eth_utils.address import to_checksum_address

from registry.twins.gs1 import digital_link
from registry.twins.schemas import PhysicalTwinIn, TagBinding, VirtualTwinIn

SCHEMA = "https://twinmark.dev/schemas/twin/v1"


class Trait(TypedDict):
    trait_type: str
    value: Any


class TokenMetadata(TypedDict):
    """The ERC-721 metadata document's top level, as minting writes it. `twinmark` (passport or
    wearable) stays a JSON object: it is what the brand sent, under names others' tools read."""

    name: str
    description: str
    attributes: list[Trait]
    twinmark: dict[str, Any]
    image: NotRequired[str]
    external_url: NotRequired[str]  # physical: its GS1 Digital Link
    animation_url: NotRequired[str]  # virtual: its first model


def canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _traits(pairs: dict[str, Any]) -> list[Trait]:
    return [{"trait_type": k, "value": v} for k, v in pairs.items() if v is not None and v != ""]


def tag_binding(b: TagBinding) -> dict[str, str]:
    """What the content publishes of a bound tag: the NTAG's UID as its SHA-256 (upper-case hex UID
    bytes hashed), a HaLo chip's address as is."""
    if b.type == "ntag424":
        assert b.uid is not None
        return {"type": "ntag424", "uid_sha256": hashlib.sha256(bytes.fromhex(b.uid)).hexdigest()}
    assert b.address is not None
    return {"type": "halo", "address": to_checksum_address(b.address)}


def physical(t: PhysicalTwinIn, *, brand: str, base_url: str) -> TokenMetadata:
    images = [f"ipfs://{cid}" for cid in t.images]
    passport: dict[str, Any] = {
        "gtin": t.gtin,
        "serial": t.serial,
        "images": images,
        "materials": [m.model_dump(exclude_none=True) for m in t.materials],
    }
    for key in ("lot", "origin_country", "care"):
        if getattr(t, key) is not None:
            passport[key] = getattr(t, key)
    if t.manufactured_on is not None:
        passport["manufactured_on"] = t.manufactured_on.isoformat()
    if t.dpp is not None:
        passport["dpp"] = t.dpp.model_dump(mode="json", exclude_none=True)
    if t.nfc:
        passport["nfc"] = [tag_binding(b) for b in t.nfc]
    doc: TokenMetadata = {
        "name": t.name,
        "description": t.description,
        "external_url": digital_link(base_url, t.gtin, t.serial, t.lot),
        "attributes": _traits(
            {
                "Kind": "Physical good",
                "Brand": brand,
                "Origin": t.origin_country,
                "Material": ", ".join(m.name for m in t.materials),
            }
            | t.attributes
        ),
        "twinmark": {"schema": SCHEMA, "kind": "physical", "brand": brand, "passport": passport},
    }
    if images:
        doc["image"] = images[0]
    return doc


def virtual(t: VirtualTwinIn, *, brand: str, meets: list[str] | None = None) -> TokenMetadata:
    """A virtual garment. `twinmark.wearable` carries Decentraland's wearable `data` under its own
    names (`category`, `hides`, `replaces`, `tags`, `representations` with `bodyShapes` URNs,
    `mainFile` and `contents`), plus the VRM licence, the linked physical twin and `meets`: the
    platform profiles its models were checked to meet at mint. (Twins minted before this shape keep
    `body_shapes`/`main_file`: content is what was minted.)"""
    representations = []
    for r in t.representations:
        main = f"ipfs://{r.model}"
        representations.append(
            {
                "bodyShapes": list(r.body_shapes),
                "mainFile": main,
                "contents": [main],  # Decentraland requires mainFile among contents
                "overrideHides": [],
                "overrideReplaces": [],
                "contentType": "model/gltf-binary",
            }
        )
    wearable: dict[str, Any] = {
        "hides": list(t.hides),
        "replaces": list(t.replaces),
        "tags": list(t.tags),
        "representations": representations,
        "license": t.license.model_dump(exclude_none=True),
        "meets": list(meets or []),
    }
    if t.category is not None:
        wearable["category"] = t.category
    if t.removes_default_hiding:
        wearable["removesDefaultHiding"] = list(t.removes_default_hiding)
    if t.physical_twin is not None:
        wearable["physical_twin"] = {"contract": t.physical_twin.contract, "token_id": t.physical_twin.token_id}
    return {
        "name": t.name,
        "description": t.description,
        "image": f"ipfs://{t.preview_image}",
        "animation_url": f"ipfs://{t.representations[0].model}",
        "attributes": _traits({"Kind": "Virtual garment", "Brand": brand, "Category": t.category} | t.attributes),
        "twinmark": {"schema": SCHEMA, "kind": "virtual", "brand": brand, "wearable": wearable},
    }


def referenced_cids(doc: dict[str, Any]) -> list[str]:
    """Every `ipfs://` asset a metadata document points at (image, model files, passport images)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith("ipfs://"):
            found.append(value.removeprefix("ipfs://"))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(doc)
    return list(dict.fromkeys(found))
