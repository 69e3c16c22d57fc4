"""Real glTF 2.0 binaries built in Python for the upload and profile tests: a mesh with a chosen
number of triangles, materials, embedded PNG textures and named nodes (Roblox cages)."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any


def png_image(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A real PNG (8-bit RGB, one colour) of the given size; compresses to a few hundred bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@dataclass
class Part:
    """One mesh (on one node): `triangles` separate triangles, drawn with `material` (an index) if given."""

    name: str
    triangles: int
    material: int | None = None


@dataclass
class Model:
    parts: list[Part] = field(default_factory=lambda: [Part("Garment", 12, 0)])
    materials: list[str] = field(default_factory=lambda: ["Fabric"])
    textures: list[tuple[int, int]] = field(default_factory=list)  # (width, height) PNGs; material i uses i % n
    padding: int = 0  # extra unreferenced BIN bytes (a bigger file)


def _f32(values: list[float]) -> list[float]:
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


def build(model: Model | None = None) -> bytes:
    """The GLB of `model`: every triangle its own 3 vertices (no index buffer), positions with exact
    min/max, UVs when there are textures; valid per the Khronos glTF Validator."""
    model = model or Model()
    blob = bytearray()
    views: list[dict[str, Any]] = []
    accessors: list[dict[str, Any]] = []

    def view(data: bytes, target: int | None = None) -> int:
        while len(blob) % 4:
            blob.append(0)
        entry: dict[str, Any] = {"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        blob.extend(data)
        views.append(entry)
        return len(views) - 1

    meshes, nodes = [], []
    for p_index, part in enumerate(model.parts):
        coords: list[float] = []
        uvs: list[float] = []
        for i in range(part.triangles):
            x, y, z = float(i % 100), float(i // 100), float(p_index)
            coords += [x, y, z, x + 1, y, z, x, y + 1, z]
            uvs += [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
        coords = _f32(coords)
        xs, ys, zs = coords[0::3], coords[1::3], coords[2::3]
        pos = view(struct.pack(f"<{len(coords)}f", *coords), 34962)
        accessors.append(
            {
                "bufferView": pos,
                "componentType": 5126,
                "count": len(coords) // 3,
                "type": "VEC3",
                "min": [min(xs), min(ys), min(zs)],
                "max": [max(xs), max(ys), max(zs)],
            }
        )
        attributes = {"POSITION": len(accessors) - 1}
        if model.textures:
            uv = view(struct.pack(f"<{len(uvs)}f", *uvs), 34962)
            accessors.append({"bufferView": uv, "componentType": 5126, "count": len(uvs) // 2, "type": "VEC2"})
            attributes["TEXCOORD_0"] = len(accessors) - 1
        primitive: dict[str, Any] = {"attributes": attributes, "mode": 4}
        if part.material is not None:
            primitive["material"] = part.material
        meshes.append({"name": part.name, "primitives": [primitive]})
        nodes.append({"name": part.name, "mesh": p_index})

    images, textures = [], []
    for width, height in model.textures:
        images.append({"bufferView": view(png_image(width, height)), "mimeType": "image/png"})
        textures.append({"source": len(images) - 1})
    materials = []
    for m_index, name in enumerate(model.materials):
        pbr: dict[str, Any] = {"metallicFactor": 0.0}
        if textures:
            pbr["baseColorTexture"] = {"index": m_index % len(textures)}
        materials.append({"name": name, "pbrMetallicRoughness": pbr})
    if model.padding:
        view(b"\x00" * model.padding)
    while len(blob) % 4:
        blob.append(0)

    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "twinmark-tests"},
        "scene": 0,
        "scenes": [{"nodes": list(range(len(nodes)))}],
        "nodes": nodes,
        "meshes": meshes,
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(blob)}],
    }
    if materials:
        doc["materials"] = materials
    if images:
        doc["images"], doc["textures"] = images, textures
    return glb_container(doc, bytes(blob))


def glb_container(doc: dict[str, Any], blob: bytes) -> bytes:
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js
    if blob:
        body += struct.pack("<II", len(blob), 0x004E4942) + blob
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


def sparse_glb(count: int, *, sparse_count: int = 1, generator: str = "twinmark-tests") -> bytes:
    """A mesh whose POSITION accessor has no bufferView (all zeros, per the spec) and `count` elements,
    with `sparse_count` of them set from two small views: a few hundred bytes whatever `count` says."""
    blob = struct.pack("<I", 0) + struct.pack("<3f", 1.0, 1.0, 1.0)
    position = {
        "componentType": 5126,
        "count": count,
        "type": "VEC3",
        "min": [0.0, 0.0, 0.0],
        "max": [1.0, 1.0, 1.0],
        "sparse": {
            "count": sparse_count,
            "indices": {"bufferView": 0, "componentType": 5125},
            "values": {"bufferView": 1},
        },
    }
    doc = {
        "asset": {"version": "2.0", "generator": generator},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "Garment", "mesh": 0}],
        "meshes": [{"name": "Garment", "primitives": [{"attributes": {"POSITION": 0}, "mode": 4}]}],
        "accessors": [position],
        "bufferViews": [{"buffer": 0, "byteLength": 4}, {"buffer": 0, "byteOffset": 4, "byteLength": 12}],
        "buffers": [{"byteLength": len(blob)}],
    }
    return glb_container(doc, blob)


def with_blend_shapes(data: bytes, shapes: int, entries: int) -> bytes:
    """The GLB of `build()` with its first mesh given `shapes` morph targets, each a sparse POSITION
    accessor without a bufferView (zeros) moving `entries` vertices: how exporters write face rigs."""
    json_length = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + json_length])
    blob = bytearray(data[28 + json_length :])
    count = doc["accessors"][0]["count"]
    step = count // entries
    primitive = doc["meshes"][0]["primitives"][0]
    primitive["targets"] = []
    for shape in range(shapes):
        indices = struct.pack(f"<{entries}I", *(i * step + shape % step for i in range(entries)))
        for payload in (indices, struct.pack(f"<{3 * entries}f", *([0.0, 0.5, 0.25] * entries))):
            doc["bufferViews"].append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(payload)})
            blob += payload
        views = len(doc["bufferViews"])
        sparse = {
            "count": entries,
            "indices": {"bufferView": views - 2, "componentType": 5125},
            "values": {"bufferView": views - 1},
        }
        accessor = {"componentType": 5126, "count": count, "type": "VEC3", "sparse": sparse}
        doc["accessors"].append(accessor | {"min": [0.0, 0.0, 0.0], "max": [0.0, 0.5, 0.25]})
        primitive["targets"].append({"POSITION": len(doc["accessors"]) - 1})
    doc["meshes"][0]["weights"] = [0.0] * shapes
    doc["buffers"][0]["byteLength"] = len(blob)
    return glb_container(doc, bytes(blob))
