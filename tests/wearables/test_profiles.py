"""Platform profiles over the counts the Khronos validator reports for real GLBs: each rule that fails
is said in plain words, and a model that fits passes."""

from __future__ import annotations

from typing import Any

import pytest

from registry.assets.service import inspect_glb
from registry.wearables import dcl
from registry.wearables.linked import mapping_document, network_for
from registry.wearables.profiles import Garment, Model, evaluate
from tests.assets.builders import Model as Glb
from tests.assets.builders import Part, build

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def stats(glb: Glb) -> dict[str, Any]:
    data = build(glb)
    return inspect_glb(data) | {"size": len(data)}


def failures(glb: Glb, category: str | None = "upper_body", hides: list[str] | None = None) -> dict[str, list[str]]:
    return evaluate(Garment(category, hides or [], [Model(CID, stats(glb))]))


CAGED = [Part("Jacket", 1200, 0), Part("Jacket_InnerCage", 300), Part("Jacket_OuterCage", 300)]


def test_garments_within_budget_meet_the_profiles() -> None:
    """1,200 visible triangles with both cages, 2 materials, 2 square textures: Roblox is met. The
    cages' 600 triangles count for Decentraland (it draws the whole file), 1,800 > 1,500; the same
    garment without cages at exactly 1,500 meets Decentraland."""
    garment = Glb(parts=CAGED, materials=["Denim", "Rivets"], textures=[(512, 512), (256, 256)])
    result = failures(garment)
    assert result["roblox-layered-clothing"] == []
    assert result["decentraland"] == [f"model {CID} has 1,800 triangles; Decentraland allows 1,500 for upper_body"]
    plain = Glb(parts=[Part("Jacket", 1500, 0)], materials=["Denim", "Rivets"], textures=[(512, 512)])
    assert failures(plain)["decentraland"] == []


@pytest.mark.parametrize(
    ("category", "hides", "budget"),
    [
        ("upper_body", [], 1500),
        ("hat", [], 1500),
        ("mask", [], 500),
        ("earring", [], 500),
        ("hands_wear", [], 1000),
        ("hands_wear", ["hands"], 1500),
        ("upper_body", ["lower_body"], 3000),  # the documented jumpsuit: 1.5k * 2
        ("helmet", ["hair", "hat", "earring", "eyewear", "tiara", "facial_hair", "top_head"], 4000),
        ("skin", [], 5000),
    ],
)
def test_decentraland_triangle_budgets_per_category(category: str, hides: list[str], budget: int) -> None:
    """At the budget: met; one triangle over: refused, naming the count and the budget."""
    assert dcl.triangle_budget(category, hides) == budget
    assert failures(Glb(parts=[Part("G", budget, 0)]), category, hides)["decentraland"] == []
    [message] = failures(Glb(parts=[Part("G", budget + 1, 0)]), category, hides)["decentraland"]
    assert f"has {budget + 1:,} triangles; Decentraland allows {budget:,} for {category}" in message


def test_three_materials_and_large_or_many_textures_each_fail_decentraland() -> None:
    """3 materials (AvatarSkin_MAT not counted), a 1024 px texture, a non-square one and a third
    texture: four reasons, each in words."""
    glb = Glb(
        parts=[Part("A", 10, 0), Part("B", 10, 1), Part("C", 10, 2), Part("D", 10, 3)],
        materials=["Wool", "Silk", "Horn", "AvatarSkin_MAT"],
        textures=[(1024, 1024), (512, 256), (128, 128)],
    )
    reasons = failures(glb)["decentraland"]
    assert reasons == [
        f"model {CID} has 3 materials; Decentraland allows 2 (not counting AvatarSkin_MAT)",
        f"model {CID} has 3 textures; Decentraland allows 2",
        f"model {CID} has a 1024x1024 px texture; Decentraland allows at most 512x512 px",
        f"model {CID} has a 512x256 px texture; Decentraland wants square textures",
    ]
    skin = failures(glb, "skin")["decentraland"]  # a skin may have 5 textures
    assert not any("textures;" in r for r in skin) and any("1024x1024" in r for r in skin)


def test_more_than_3_mb_fails_decentraland_but_a_skin_may_have_8() -> None:
    """A 3.1 MB file (padding in its buffer) is over the Builder's 3 MB per wearable; skins allow 8 MB."""
    big = Glb(parts=[Part("G", 10, 0)], padding=int(3.1 * 1024 * 1024))
    [reason] = failures(big)["decentraland"]
    assert reason.startswith(f"model {CID} is 3.10 MB; Decentraland allows 3.00 MB per representation")
    assert failures(big, "skin")["decentraland"] == []


def test_categories_decentraland_does_not_make_from_a_model() -> None:
    """No category, or eyes/eyebrows/mouth/body_shape (PNG textures or base avatars): not a DCL wearable."""
    glb = Glb(parts=[Part("G", 10, 0)])
    assert "needs a category" in failures(glb, None)["decentraland"][0]
    assert "not from a GLB model" in failures(glb, "eyes")["decentraland"][0]


def test_roblox_needs_both_cages_and_at_most_4000_visible_triangles() -> None:
    """No cages: two reasons; only the inner one: one; 4,001 visible triangles: over; cages named on
    the node only still count; cage triangles are not budgeted."""
    bare = failures(Glb(parts=[Part("Jacket", 100, 0)]))["roblox-layered-clothing"]
    assert bare == [
        f"model {CID} has no inner cage; Roblox layered clothing needs a mesh or node named <Garment>_InnerCage",
        f"model {CID} has no outer cage; Roblox layered clothing needs a mesh or node named <Garment>_OuterCage",
    ]
    inner_only = failures(Glb(parts=[Part("Jacket", 100, 0), Part("Jacket_InnerCage", 50)]))
    assert [r.split("; ")[0] for r in inner_only["roblox-layered-clothing"]] == [f"model {CID} has no outer cage"]
    heavy = Glb(parts=[Part("Jacket", 4001, 0), Part("Jacket_InnerCage", 2000), Part("Jacket_OuterCage", 2000)])
    assert failures(heavy)["roblox-layered-clothing"] == [
        f"model {CID} has 4,001 triangles outside its cages; Roblox layered clothing allows 4,000"
    ]
    at_budget = Glb(parts=[Part("Jacket", 4000, 0), Part("Jacket_InnerCage", 10), Part("Jacket_OuterCage", 10)])
    assert failures(at_budget)["roblox-layered-clothing"] == []


def test_mapping_documents_and_networks() -> None:
    """Runs become `range`, single tokens `single`, ids as decimal strings, the contract lower-cased;
    a chain Decentraland does not list needs a network named."""
    doc = mapping_document("amoy", "0xAbC0000000000000000000000000000000000DeF", [(20001, 20001), (10001, 10004)])
    wire = {
        network: {c: [m.model_dump(by_alias=True) for m in found] for c, found in by.items()}
        for network, by in doc.items()
    }
    assert wire == {
        "amoy": {
            "0xabc0000000000000000000000000000000000def": [
                {"type": "range", "from": "10001", "to": "10004"},
                {"type": "single", "id": "20001"},
            ]
        }
    }
    assert network_for(137) == "matic" and network_for(11155111) == "sepolia"
    assert network_for(31337, "amoy") == "amoy"
    with pytest.raises(Exception, match="not a network Decentraland supports"):
        network_for(31337)
