"""The counts kept from the Khronos glTF Validator's report of a GLB (`registry.assets.gltf`), and the
triangles a primitive draws (also read by `registry.assets.budget` before the validator runs)."""

from __future__ import annotations

from typing import Any, TypedDict


class Report(TypedDict, total=False):
    """The validator's JSON report (glTF-Validator's `validation report` format), the members read
    here; each is checked before use, as the worker is another process."""

    issues: dict[str, Any]  # numErrors, numWarnings, messages
    info: dict[str, Any]  # totalTriangleCount, totalVertexCount, resources, ...
    validatorVersion: str
    failure: str  # tools/gltf/validate.mjs could not validate the file


class MeshCounts(TypedDict):
    name: str
    nodes: list[str]
    triangles: int


class GltfCounts(TypedDict):
    """What is kept of a validated GLB (`registry.assets.schemas.GltfStats` describes each count)."""

    triangles: int
    vertices: int
    materials: int
    textures: int
    draw_calls: int
    max_texture_size: int | None
    texture_sizes: list[list[int]]
    material_names: list[str]
    meshes: list[MeshCounts]
    warnings: int
    validator: str


def counts(report: Report, gltf: dict[str, Any]) -> GltfCounts:
    """The counts games and platform profiles need, from the report of a model the validator passed
    and its JSON chunk `gltf` (names of nodes, meshes and materials)."""
    info = _object(report.get("info"))
    sizes = [
        [_count(r["image"].get("width")), _count(r["image"].get("height"))]
        for r in info.get("resources") or []
        if isinstance(r, dict) and isinstance(r.get("image"), dict)
    ]
    images = _list(gltf, "images")
    return {
        "triangles": _count(info.get("totalTriangleCount")),
        "vertices": _count(info.get("totalVertexCount")),
        "materials": _count(info.get("materialCount")),
        "textures": len(images),  # image files (what platforms budget), not texture bindings
        "draw_calls": _count(info.get("drawCallCount")),
        "max_texture_size": max((max(s) for s in sizes), default=None),
        "texture_sizes": sizes,
        "material_names": [_name(m) for m in _list(gltf, "materials")],
        "meshes": _meshes(gltf),
        "warnings": _count((report.get("issues") or {}).get("numWarnings")),
        "validator": str(report.get("validatorVersion", "")),
    }


def _list(gltf: dict[str, Any], key: str) -> list[Any]:
    value = gltf.get(key)
    return value if isinstance(value, list) else []


def _name(entry: Any) -> str:
    return str(entry.get("name", "")) if isinstance(entry, dict) else ""


def _meshes(gltf: dict[str, Any]) -> list[MeshCounts]:
    """Each mesh's name, the names of the nodes that draw it, and its triangles (Roblox budgets the
    visible mesh apart from its cages, which are found by these names)."""
    accessors = _list(gltf, "accessors")
    nodes = _list(gltf, "nodes")
    found = []
    for index, mesh in enumerate(_list(gltf, "meshes")):
        triangles = 0
        primitives = mesh.get("primitives") if isinstance(mesh, dict) else None
        for primitive in primitives if isinstance(primitives, list) else []:
            triangles += primitive_triangles(primitive, accessors)
        names = [_name(n) for n in nodes if isinstance(n, dict) and n.get("mesh") == index]
        found.append(MeshCounts(name=_name(mesh), nodes=names, triangles=triangles))
    return found


def primitive_triangles(primitive: Any, accessors: list[Any]) -> int:
    if not isinstance(primitive, dict):
        return 0
    attributes = primitive.get("attributes")
    found = primitive.get("indices", attributes.get("POSITION") if isinstance(attributes, dict) else None)
    source = natural(found)
    if source is None or source >= len(accessors) or not isinstance(accessors[source], dict):
        return 0
    count = _count(accessors[source].get("count"))
    mode = primitive.get("mode", 4)
    if mode == 4:
        return count // 3
    if mode in (5, 6):  # strip, fan
        return max(count - 2, 0)
    return 0


def _object(value: Any) -> dict[str, Any]:  # the report is another process's output: checked
    return value if isinstance(value, dict) else {}


def natural(value: Any) -> int | None:
    """A non-negative integer as the validator reads it: it runs in JavaScript, where `1.5e8` and
    `150000000.0` are integers too (Python's json makes them floats)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _count(value: Any) -> int:
    return natural(value) or 0
