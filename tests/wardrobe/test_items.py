"""Representations are read under Decentraland's names (new content) and the earlier ones alike."""

from __future__ import annotations

import json
from typing import Any

from registry.twins.models import Twin
from registry.wardrobe.items import item, referenced

GLB_M, GLB_F, PNG = "bafkreiaaaa", "bafkreibbbb", "bafkreicccc"
GATEWAY = "https://cdn.example/ipfs"


def _twin(meta: dict[str, Any], status: int = 0) -> Twin:
    return Twin(
        collection="0x" + "ab" * 20,
        token_id=10_001,
        batch_id=1,
        kind="virtual",
        name="Jacket",
        metadata_cid="bafymeta",
        dir_cid="bafydir",
        token_uri="ipfs://bafydir/10001",
        tx_hash="0x",
        block_number=1,
        metadata_json=json.dumps(meta),
        status=status,
    )


def test_both_naming_schemes_give_the_same_item() -> None:
    files = {GLB_M: {"size": 10, "media_type": "model/gltf-binary", "triangles": 1200, "materials": 2}}
    old = {
        "image": f"ipfs://{PNG}",
        "twinmark": {
            "brand": "Maison",
            "wearable": {
                "category": "upper_body",
                "representations": [
                    {"body_shapes": ["BaseMale"], "main_file": f"ipfs://{GLB_M}", "content_type": "model/gltf-binary"},
                    {"body_shapes": ["BaseFemale"], "main_file": f"ipfs://{GLB_F}"},
                ],
            },
        },
    }
    new = json.loads(json.dumps(old))
    new["twinmark"]["wearable"]["representations"] = [
        {"bodyShapes": ["BaseMale"], "mainFile": f"ipfs://{GLB_M}", "contentType": "model/gltf-binary"},
        # Decentraland's own form: a file name resolved through `contents`.
        {"bodyShapes": ["BaseFemale"], "mainFile": "female.glb", "contents": [{"key": "female.glb", "hash": GLB_F}]},
    ]
    a, b = (item(_twin(m), m, GATEWAY, files, None) for m in (old, new))
    assert a.representations[0] == b.representations[0]
    assert [r.main_file.cid for r in b.representations] == [GLB_M, GLB_F]
    urn = "urn:decentraland:off-chain:base-avatars:"
    assert [r.body_shapes for r in b.representations] == [[urn + "BaseMale"], [urn + "BaseFemale"]]
    first = b.representations[0].main_file
    assert first.url == f"{GATEWAY}/{GLB_M}" and first.triangles == 1200 and first.materials == 2
    assert b.representations[1].main_file.size is None  # not uploaded here: unknown, not invented
    assert b.brand.name == "Maison" and b.preview is not None and b.preview.url == f"{GATEWAY}/{PNG}"
    assert sorted(referenced(new)) == sorted([GLB_M, GLB_F, PNG])


def test_a_stolen_twin_is_marked() -> None:
    meta: dict[str, Any] = {"twinmark": {"wearable": {}}}
    assert item(_twin(meta, status=2), meta, GATEWAY, {}, "B").stolen is True
    assert item(_twin(meta, status=1), meta, GATEWAY, {}, "B").status == "lost"
