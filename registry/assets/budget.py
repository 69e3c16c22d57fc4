"""What a GLB declares, weighed before the glTF Validator runs, and the ceilings of a game-ready model.

The validator's time grows with the elements the accessors declare, not with the file's bytes: an
accessor without a bufferView is all zeros (a sparse one gets a few values on top), so 596 bytes
declaring 2^31 vertices kept it busy for minutes, and 600 bytes declaring 1.5e8 passed as a
50M-triangle model. Measured here, the validator reads 10-19 million float components a second
(fewer in large accessors); the work a file may declare is bounded by its size and by MAX_WORK, and
checked in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.assets.counts import natural, primitive_triangles
from registry.assets.gltf import Issue, ModelTooComplex
from registry.settings import Settings

COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
INDEX_BYTES = {5121: 1, 5123: 2, 5125: 4}
# Work is components the validator reads: each accessor's count times its components, plus each
# sparse entry's index and value. Data stored in the file declares at most one component per byte
# (a float takes four); the factor leaves room for zero-filled sparse morph targets (52 ARKit blend
# shapes on a 30k-vertex mesh pass), the floor for small files with a few (~0.2 s of validation).
WORK_PER_BYTE = 8
WORK_FLOOR = 2 << 20
# 1-2 s of validation here, whatever the file's size, a third of the per-file limit: a model at the
# ceilings (1.5M vertices with position, normal and UVs: 12M) fits, and 25 MiB store at most 6.5M floats.
MAX_WORK = 16 << 20
# Far above any wearable or game prop (a AAA character has a few hundred nodes and materials).
MAX_ITEMS = {
    "accessors": 65_536,
    "bufferViews": 65_536,
    "meshes": 16_384,
    "nodes": 65_536,
    "materials": 4_096,
    "textures": 4_096,
    "images": 1_024,
    "samplers": 4_096,
    "skins": 1_024,
    "animations": 4_096,
    "cameras": 1_024,
    "scenes": 1_024,
}
MAX_PRIMITIVES = 65_536


@dataclass(frozen=True)
class ModelLimits:
    """The settings a GLB upload is held to (defaults: Settings' own)."""

    max_triangles: int = 500_000
    max_vertices: int = 1_500_000
    validator_workers: int = 2
    validations_per_brand: int = 1
    validator_timeout: float = 5.0

    @classmethod
    def of(cls, settings: Settings) -> ModelLimits:
        return cls(
            max_triangles=settings.gltf_max_triangles,
            max_vertices=settings.gltf_max_vertices,
            validator_workers=settings.gltf_validator_workers,
            validations_per_brand=settings.gltf_validations_per_brand,
            validator_timeout=settings.gltf_validator_timeout_seconds,
        )


def check_declared_work(gltf: dict[str, Any], size: int, limits: ModelLimits) -> None:
    """ModelTooComplex (422, each reason as an issue) if the JSON declares more work than a file of
    `size` bytes may, or more than a game-ready model has. Malformed values are left to the validator,
    which names them (they count as nothing here)."""
    issues = [
        _issue("TOO_MANY_OBJECTS", f"/{key}", f"{n:,} {key}; a model may have at most {most:,}")
        for key, most in MAX_ITEMS.items()
        if (n := len(_list(gltf, key))) > most
    ]
    buffers = [_buffer_bytes(b) for b in _list(gltf, "buffers")]
    views = _list(gltf, "bufferViews")
    for i, view in enumerate(views):
        end, held = _view_end(view), _view_bytes(view, buffers)
        if end is not None and held is not None and held[0] and end > held[1]:
            issues.append(_issue("VIEW_BEYOND_BUFFER", f"/bufferViews/{i}", f"ends at byte {end:,} of {held[1]:,}"))
    accessors = _list(gltf, "accessors")
    work = 0
    for i, accessor in enumerate(accessors):
        work += _accessor_work(i, accessor, views, buffers, issues)
    bound = min(MAX_WORK, WORK_PER_BYTE * size + WORK_FLOOR)
    if work > bound:
        declared = f"the accessors declare {work:,} components to read"
        issues.append(
            _issue("DECLARED_WORK_TOO_LARGE", "/accessors", f"{declared}; {size:,} bytes may declare {bound:,}")
        )
    triangles = vertices = primitives = 0
    for mesh in _list(gltf, "meshes"):
        found = mesh.get("primitives") if isinstance(mesh, dict) else None
        for primitive in found if isinstance(found, list) else []:
            primitives += 1
            triangles += primitive_triangles(primitive, accessors)
            vertices += _position_count(primitive, accessors)
    if primitives > MAX_PRIMITIVES:
        issues.append(_issue("TOO_MANY_OBJECTS", "/meshes", f"{primitives:,} primitives; at most {MAX_PRIMITIVES:,}"))
    issues += ceilings(triangles, vertices, limits)
    if issues:
        raise refusal(issues)


def _accessor_work(
    i: int, accessor: Any, views: list[Any], buffers: list[tuple[bool, int] | None], issues: list[Issue]
) -> int:
    """The components the validator reads for accessor `i` (zero-filled ones too); a sparse part larger
    than the accessor, or than the bytes the file holds for its indices and values, is an issue."""
    if not isinstance(accessor, dict):
        return 0
    count, kind = _int(accessor.get("count")), str(accessor.get("type"))
    components = COMPONENTS.get(kind)
    if count is None or components is None:
        return 0
    sparse = _dict(accessor.get("sparse"))
    entries = _int(sparse.get("count"))
    if entries is None:
        return count * components
    where = f"/accessors/{i}/sparse"
    if entries > count:
        issues.append(_issue("SPARSE_COUNT_TOO_LARGE", f"{where}/count", f"{entries:,} entries in {count:,} elements"))
        return count * components + entries * (1 + components)
    indices, values = _dict(sparse.get("indices")), _dict(sparse.get("values"))
    needs = {
        "indices": (indices, INDEX_BYTES.get(_int(indices.get("componentType")) or 0)),
        "values": (values, _element_bytes(accessor.get("componentType"), components, kind)),
    }
    for part, (where_from, each) in needs.items():
        held = _part_bytes(where_from, views, buffers)
        if each is not None and held is not None and entries * each > held:
            need = f"{entries:,} sparse {part} need {entries * each:,} bytes"
            issues.append(_issue("SPARSE_DATA_TOO_SHORT", f"{where}/{part}", f"{need}; the file holds {held:,}"))
    return count * components + entries * (1 + components)


def ceilings(triangles: int, vertices: int, limits: ModelLimits) -> list[Issue]:
    """The game-ready ceilings (TWINMARK_GLTF_MAX_TRIANGLES, ..._VERTICES), on counts the JSON declares
    or the validator reports."""
    issues = []
    if triangles > limits.max_triangles:
        issues.append(
            _issue(
                "TOO_MANY_TRIANGLES",
                "/meshes",
                f"{triangles:,} triangles; a game-ready model has at most {limits.max_triangles:,}",
            )
        )
    if vertices > limits.max_vertices:
        issues.append(
            _issue(
                "TOO_MANY_VERTICES",
                "/meshes",
                f"{vertices:,} vertices; a game-ready model has at most {limits.max_vertices:,}",
            )
        )
    return issues


def refusal(issues: list[Issue]) -> ModelTooComplex:
    listed = "; ".join(f"{i.code} at {i.pointer}: {i.message}" for i in issues[:10])
    more = f" (and {len(issues) - 10} more)" if len(issues) > 10 else ""
    return ModelTooComplex(
        f"the model declares more than it may ({listed}{more}); not validated", issues=[i.as_dict() for i in issues]
    )


def _issue(code: str, pointer: str, message: str) -> Issue:
    return Issue(code, pointer, message, "error")


def _buffer_bytes(buffer: Any) -> tuple[bool, int] | None:
    """(whether its bytes are in the file, its length) of a buffer; None if malformed. The BIN chunk's
    length was checked by the container check; a data: URI holds fewer bytes than its characters."""
    length = _int(buffer.get("byteLength")) if isinstance(buffer, dict) else None
    if length is None:
        return None
    uri = buffer.get("uri")
    if uri is None:
        return True, length
    if isinstance(uri, str) and uri.startswith("data:"):
        return True, min(length, len(uri))
    return False, length  # external: not in the upload, and never read by the validator here


def _view_end(view: Any) -> int | None:
    if not isinstance(view, dict):
        return None
    offset, length = _int(view.get("byteOffset", 0)), _int(view.get("byteLength"))
    return None if offset is None or length is None else offset + length


def _view_bytes(view: Any, buffers: list[tuple[bool, int] | None]) -> tuple[bool, int] | None:
    index = _int(view.get("buffer")) if isinstance(view, dict) else None
    return buffers[index] if index is not None and index < len(buffers) else None


def _part_bytes(part: dict[str, Any], views: list[Any], buffers: list[tuple[bool, int] | None]) -> int | None:
    """Bytes the file holds for sparse indices or values from their offset on (their view, cut at
    its buffer's end); None where the validator will name what is malformed."""
    index, offset = _int(part.get("bufferView")), _int(part.get("byteOffset", 0))
    if index is None or offset is None or index >= len(views):
        return None
    view, end, held = views[index], _view_end(views[index]), _view_bytes(views[index], buffers)
    if end is None or held is None or not held[0]:
        return None
    start = _int(view.get("byteOffset", 0)) or 0
    return max(0, min(end, held[1]) - start - offset)


def _element_bytes(component_type: Any, components: int, kind: str) -> int | None:
    size = COMPONENT_BYTES.get(_int(component_type) or 0)
    if size is None:
        return None
    if kind.startswith("MAT"):  # matrix columns start on 4-byte boundaries
        rows = {"MAT2": 2, "MAT3": 3, "MAT4": 4}[kind]
        return rows * (-(-rows * size // 4) * 4)
    return components * size


def _position_count(primitive: Any, accessors: list[Any]) -> int:
    attributes = primitive.get("attributes") if isinstance(primitive, dict) else None
    index = _int(attributes.get("POSITION")) if isinstance(attributes, dict) else None
    if index is None or index >= len(accessors) or not isinstance(accessors[index], dict):
        return 0
    return _int(accessors[index].get("count")) or 0


def _list(gltf: dict[str, Any], key: str) -> list[Any]:
    value = gltf.get(key)
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    # Integral floats too (`1.5e8`): the validator reads them as integers, and they once counted as nothing.
    return natural(value)
