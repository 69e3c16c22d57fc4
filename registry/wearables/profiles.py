"""Platform profiles: the rules a garment's models must meet to load on a platform, each failure
said in plain words. Checked from the counts the glTF Validator reported at upload."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from registry.wearables import dcl

Profile = Literal["decentraland", "roblox-layered-clothing"]
PROFILES: tuple[str, ...] = get_args(Profile)

ROBLOX_MAX_TRIANGLES = 4000  # Roblox clothing specifications: "Accessories can't exceed 4k triangles"
ROBLOX_CAGES = ("_InnerCage", "_OuterCage")  # cage meshes named <Garment>_InnerCage / <Garment>_OuterCage


@dataclass(frozen=True)
class Model:
    """One representation's GLB, as the garment uses it."""

    cid: str
    stats: dict[str, Any]  # registry.assets.service.asset_stats entry


@dataclass(frozen=True)
class Garment:
    category: str | None
    hides: list[str]
    models: list[Model]


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.2f} MB"


def decentraland(g: Garment) -> list[str]:
    if g.category is None:
        return ["Decentraland needs a category (one of its WearableCategory values, e.g. upper_body)"]
    if g.category in dcl.NOT_FROM_A_MODEL:
        return [f"Decentraland makes {g.category} from its own textures or base avatars, not from a GLB model"]
    skin = g.category == "skin"
    budget = dcl.triangle_budget(g.category, g.hides)
    max_textures = dcl.SKIN_MAX_TEXTURES if skin else dcl.MAX_TEXTURES
    max_bytes = dcl.SKIN_MAX_FILE_BYTES if skin else dcl.MAX_FILE_BYTES
    failed = []
    for m in g.models:
        s, where = m.stats, f"model {m.cid}"
        if s["triangles"] > budget:
            hidden = f" hiding {', '.join(g.hides)}" if g.hides and budget != dcl.TRIANGLES.get(g.category) else ""
            failed.append(
                f"{where} has {s['triangles']:,} triangles; Decentraland allows {budget:,} for {g.category}{hidden}"
            )
        counted = len([n for n in s["material_names"] if not n.startswith(dcl.SKIN_MATERIAL_PREFIX)])
        if counted > dcl.MAX_MATERIALS:
            failed.append(
                f"{where} has {counted} materials; Decentraland allows {dcl.MAX_MATERIALS}"
                f" (not counting {dcl.SKIN_MATERIAL_PREFIX})"
            )
        if s["textures"] > max_textures:
            failed.append(f"{where} has {s['textures']} textures; Decentraland allows {max_textures}")
        for width, height in s["texture_sizes"]:
            if max(width, height) > dcl.MAX_TEXTURE_PX:
                failed.append(
                    f"{where} has a {width}x{height} px texture; Decentraland allows at most"
                    f" {dcl.MAX_TEXTURE_PX}x{dcl.MAX_TEXTURE_PX} px"
                )
            elif width != height:
                failed.append(f"{where} has a {width}x{height} px texture; Decentraland wants square textures")
        if s["size"] > max_bytes:
            failed.append(f"{where} is {_mb(s['size'])}; Decentraland allows {_mb(max_bytes)} per representation")
    return failed


def _is_cage(mesh: dict[str, Any], suffix: str) -> bool:
    return any(name.endswith(suffix) for name in [mesh["name"], *mesh["nodes"]])


def roblox_layered_clothing(g: Garment) -> list[str]:
    failed = []
    for m in g.models:
        meshes, where = m.stats["meshes"], f"model {m.cid}"
        visible = [x for x in meshes if not any(_is_cage(x, s) for s in ROBLOX_CAGES)]
        triangles = sum(x["triangles"] for x in visible)
        if triangles > ROBLOX_MAX_TRIANGLES:
            failed.append(
                f"{where} has {triangles:,} triangles outside its cages; Roblox layered clothing allows"
                f" {ROBLOX_MAX_TRIANGLES:,}"
            )
        for suffix, label in zip(ROBLOX_CAGES, ("inner", "outer"), strict=True):
            if not any(_is_cage(x, suffix) for x in meshes):
                failed.append(
                    f"{where} has no {label} cage; Roblox layered clothing needs a mesh or node named <Garment>{suffix}"
                )
    return failed


CHECKS: dict[str, Callable[[Garment], list[str]]] = {
    "decentraland": decentraland,
    "roblox-layered-clothing": roblox_layered_clothing,
}


def evaluate(g: Garment) -> dict[str, list[str]]:
    """Every profile's failed rules for this garment (an empty list: the garment meets it)."""
    return {name: CHECKS[name](g) for name in PROFILES}
