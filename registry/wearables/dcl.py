"""Decentraland's wearable vocabulary, exactly as @dcl/schemas names it (WearableCategory,
BodyPartCategory, BodyShape, ContractNetwork), and the limits its wearable guide documents.

Sources: @dcl/schemas 27.1 `platform/item/wearable/*`, `platform/item/linked-wearable-mappings`;
Decentraland docs, "Creating wearables" (tris, materials and texture limitations); the Builder's
`MAX_WEARABLE_FILE_SIZE` / `MAX_SKIN_FILE_SIZE` (@dcl/builder-client files/constants).
"""

from __future__ import annotations

from typing import Literal, get_args

WearableCategory = Literal[
    "eyebrows",
    "eyes",
    "facial_hair",
    "hair",
    "body_shape",
    "mouth",
    "upper_body",
    "lower_body",
    "feet",
    "earring",
    "eyewear",
    "hat",
    "helmet",
    "mask",
    "tiara",
    "top_head",
    "skin",
    "hands_wear",
]
HideableCategory = WearableCategory | Literal["head", "hands"]  # the slots a wearable may hide: categories and two more
CATEGORIES: tuple[str, ...] = get_args(WearableCategory)

BODY_SHAPES = {
    "BaseMale": "urn:decentraland:off-chain:base-avatars:BaseMale",
    "BaseFemale": "urn:decentraland:off-chain:base-avatars:BaseFemale",
}

# Triangle budget per category ("No more than 1.5K triangles per wearable slot: hat, helmet, upper
# body, lower body, feet and hair"; 500 for the small accessories; hand accessories 1k, 1.5k when they
# hide the base hands; skins 5k).
TRIANGLES: dict[str, int] = {
    "hat": 1500,
    "helmet": 1500,
    "upper_body": 1500,
    "lower_body": 1500,
    "feet": 1500,
    "hair": 1500,
    "mask": 500,
    "eyewear": 500,
    "earring": 500,
    "tiara": 500,
    "top_head": 500,
    "facial_hair": 500,
    "hands_wear": 1000,
    "skin": 5000,
}
HANDS_REPLACED_TRIANGLES = 1500
HELMET_COMBINED_MAX = 4000  # a helmet hiding the head wearables may reach 4k, no more
# Categories Decentraland makes from a 256 px PNG or from its own base avatars, never from a GLB.
NOT_FROM_A_MODEL = ("eyebrows", "eyes", "mouth", "body_shape")
MAX_TEXTURES, SKIN_MAX_TEXTURES = 2, 5
MAX_TEXTURE_PX = 512
MAX_MATERIALS = 2
SKIN_MATERIAL_PREFIX = "AvatarSkin_MAT"  # not counted against the material budget
MAX_FILE_BYTES = 3 * 1024 * 1024
SKIN_MAX_FILE_BYTES = 8 * 1024 * 1024

# @dcl/schemas ContractNetwork, by EVM chain id.
NETWORKS: dict[int, str] = {
    1: "mainnet",
    8453: "base_mainnet",
    84532: "base_sepolia",
    143: "monad_mainnet",
    10143: "monad_testnet",
    33139: "ape_mainnet",
    33111: "ape_caldera",
    137: "matic",
    11155111: "sepolia",
    80002: "amoy",
}
ContractNetwork = Literal[
    "mainnet",
    "base_mainnet",
    "base_sepolia",
    "monad_mainnet",
    "monad_testnet",
    "ape_mainnet",
    "ape_caldera",
    "matic",
    "sepolia",
    "amoy",
]


def triangle_budget(category: str, hides: list[str]) -> int:
    """The category's budget, combined with the budgets of the slots it hides ("Wearable Tris
    Combiner": an upper_body hiding lower_body may use 1.5k * 2 = 3k; a helmet at most 4k)."""
    own = TRIANGLES.get(category, 0)
    if category == "hands_wear" and "hands" in hides:
        own = HANDS_REPLACED_TRIANGLES
    combined = own + sum(TRIANGLES.get(h, 0) for h in dict.fromkeys(hides) if h not in (category, "skin"))
    if category == "helmet":
        combined = min(combined, HELMET_COMBINED_MAX)
    return combined
