"""Uploaded assets: images and GLB models, sniffed and validated before they reach IPFS."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from registry.assets.budget import ModelLimits, ceilings, check_declared_work, refusal
from registry.assets.counts import GltfCounts
from registry.assets.gltf import validate_with_khronos
from registry.assets.models import Asset
from registry.assets.schemas import GltfStats
from registry.errors import InvalidInput, PayloadTooLarge
from registry.ipfs.store import ContentStore, add_bytes

GLB = "model/gltf-binary"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
_GLB_JSON, _GLB_BIN = 0x4E4F534A, 0x004E4942


MAX_JSON_DEPTH = 64
_ESCAPE = re.compile(rb"\\.", re.S)
_STRING = re.compile(rb'"[^"]*"')  # linear once escapes are gone: no quote inside, no backtracking
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def loads_json(data: bytes) -> Any:
    """json.loads, refusing (ValueError) before parsing a document nested deeper than MAX_JSON_DEPTH or
    with unbalanced brackets: a dependency (py_ecc) raises the recursion limit to 100,000 at import,
    so deep nesting would overflow the C stack and kill the process rather than raise RecursionError."""
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", data)).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):  # each pass removes the innermost pairs: one level
        peeled = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(peeled) == len(brackets):
            break
        brackets = peeled
    if brackets:
        raise ValueError(f"not JSON: brackets unbalanced or nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(data)
    except RecursionError:  # (under the default recursion limit)
        raise ValueError("JSON nested too deeply") from None


def sniff(data: bytes) -> str:
    """The media type from the bytes themselves (never from the client's claim)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"glTF"):
        return GLB
    raise InvalidInput("unsupported file: expected a PNG, JPEG or WebP image, or a GLB (binary glTF 2.0) model")


def validate_glb(data: bytes) -> dict[str, Any]:
    """Checks the GLB container (glTF 2.0 spec, section 4.4) and its JSON chunk; InvalidInput if malformed.
    Returns the parsed JSON chunk: the uploader's glTF document, a dict because it is free-form (any
    extension, any `extras`) and is only read defensively, member by member, after this check.

    Hand-written on purpose: pygltflib and trimesh load leniently and would accept the very
    truncated or mislabelled files this check exists to refuse.
    """
    if len(data) < 20:
        raise InvalidInput("GLB file too short")
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2:
        raise InvalidInput(f"GLB header must be 'glTF' version 2 (got version {version})")
    if length != len(data):
        raise InvalidInput(f"GLB header declares {length} bytes but the file has {len(data)}")
    offset, chunks = 12, []
    while offset < length:
        if offset + 8 > length:
            raise InvalidInput("GLB chunk header truncated")
        chunk_length, chunk_type = struct.unpack_from("<II", data, offset)
        if chunk_length % 4 or offset + 8 + chunk_length > length:
            raise InvalidInput("GLB chunk length is not 4-byte aligned or runs past the end of the file")
        chunks.append((chunk_type, data[offset + 8 : offset + 8 + chunk_length]))
        offset += 8 + chunk_length
    if not chunks or chunks[0][0] != _GLB_JSON:
        raise InvalidInput("GLB must start with a JSON chunk")
    if len(chunks) > 2 or (len(chunks) == 2 and chunks[1][0] != _GLB_BIN):
        raise InvalidInput("GLB may only hold a JSON chunk and one BIN chunk")
    try:
        gltf = loads_json(chunks[0][1].decode("utf-8").rstrip(" \x00").encode())
    except ValueError as exc:  # (UnicodeDecodeError and JSONDecodeError among them)
        raise InvalidInput(f"GLB JSON chunk is not valid JSON: {exc}") from exc
    asset = gltf.get("asset") if isinstance(gltf, dict) else None
    version_text = str(asset.get("version", "")) if isinstance(asset, dict) else ""
    if not version_text.startswith("2."):
        raise InvalidInput("GLB JSON must declare asset.version 2.x")
    buffers = gltf.get("buffers", [])
    if not isinstance(buffers, list) or not all(isinstance(b, dict) for b in buffers):
        raise InvalidInput("GLB JSON `buffers` must be a list of objects")
    bin_length = len(chunks[1][1]) if len(chunks) == 2 else 0
    for i, buffer in enumerate(buffers):
        length = buffer.get("byteLength", 0)
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise InvalidInput(f"GLB buffer {i} has no valid byteLength")
        if "uri" not in buffer and length > bin_length:
            raise InvalidInput(f"GLB buffer {i} is longer than the BIN chunk")
    return dict(gltf)


def inspect_glb(data: bytes, *, limits: ModelLimits | None = None, brand: str | None = None) -> GltfCounts:
    """The container check, the work the JSON declares (ModelTooComplex if out of proportion to the
    file or above a game-ready model's ceilings), then the Khronos glTF Validator, in `brand`'s turn:
    any error it reports refuses the model (InvalidInput listing each error's code, JSON pointer and
    message). Returns the model's counts."""
    limits = limits or ModelLimits()
    gltf = validate_glb(data)
    check_declared_work(gltf, len(data), limits)
    inspection = validate_with_khronos(
        data,
        gltf,
        timeout=limits.validator_timeout,
        brand=brand,
        workers=limits.validator_workers,
        per_brand=limits.validations_per_brand,
    )
    if inspection.errors:
        listed = "; ".join(f"{e.code} at {e.pointer or '/'}: {e.message}" for e in inspection.errors[:10])
        more = f" (and {len(inspection.errors) - 10} more)" if len(inspection.errors) > 10 else ""
        raise InvalidInput(
            f"the Khronos glTF Validator found {len(inspection.errors)} error(s): {listed}{more}",
            issues=[e.as_dict() for e in inspection.errors],
        )
    stats = inspection.stats
    assert stats is not None  # a model without errors has its counts
    # The validator's own totals too: no model above the ceilings is ever stored as game-ready.
    beyond = ceilings(stats["triangles"], stats["vertices"], limits)
    if beyond:
        raise refusal(beyond)
    return stats


def store_asset(
    session: Session,
    store: ContentStore,
    brand_id: str,
    data: bytes,
    filename: str | None,
    *,
    max_bytes: int,
    limits: ModelLimits | None = None,
) -> Asset:
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"asset is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise InvalidInput("empty file")
    media_type = sniff(data)
    stats = None
    if media_type == GLB:
        stats = json.dumps(inspect_glb(data, limits=limits, brand=brand_id), separators=(",", ":"))
    imported = add_bytes(store, data)
    cid = str(imported.cid)
    asset = session.get(Asset, (brand_id, cid))
    if asset is None:
        asset = Asset(
            brand_id=brand_id, cid=cid, media_type=media_type, size=len(data), filename=filename, gltf_stats=stats
        )
        session.add(asset)
    elif asset.gltf_stats is None and stats is not None:
        asset.gltf_stats = stats  # uploaded before validation existed
    return asset


def stats_of(asset: Asset) -> GltfStats | None:
    """The counts kept for a GLB asset; None for images and unvalidated models."""
    return None if asset.gltf_stats is None else GltfStats.model_validate_json(asset.gltf_stats)


def _stored_stats(asset: Asset) -> dict[str, Any] | None:
    # The stored counts as platform profiles read them (`registry.wearables.profiles`), with the size.
    if asset.gltf_stats is None:
        return None
    stats: dict[str, Any] = json.loads(asset.gltf_stats)
    return stats | {"size": asset.size}


def asset_stats(session: Session, cids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Validated GLB counts by CID (triangles, vertices, materials, textures, draw_calls,
    max_texture_size, texture_sizes, material_names, meshes, size, ...). CIDs with no validated GLB
    (images, unknown CIDs, models uploaded before validation) are absent. The same bytes have the
    same counts whichever brand uploaded them. Dicts on purpose: the validator's counts are open-ended
    (new counts arrive with new validator versions) and platform profiles read them by name."""
    wanted = list(dict.fromkeys(cids))
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(wanted), 500):
        rows = session.exec(
            select(Asset).where(col(Asset.cid).in_(wanted[i : i + 500]), col(Asset.gltf_stats).is_not(None))
        )
        for asset in rows:
            stats = _stored_stats(asset)
            if stats is not None:
                found.setdefault(asset.cid, stats)
    return found


def check_assets(session: Session, brand_id: str, wanted: Mapping[str, tuple[str, ...]]) -> None:
    """Every CID in `wanted` was uploaded by this brand, with one of the media types given for it."""
    if not wanted:
        return
    known = {
        a.cid: a.media_type
        for a in session.exec(select(Asset).where(Asset.brand_id == brand_id, col(Asset.cid).in_(list(wanted))))
    }
    for cid, types in wanted.items():
        if cid not in known:
            raise InvalidInput(f"asset {cid} was not uploaded by this brand (POST /v1/assets first)")
        if known[cid] not in types:
            raise InvalidInput(f"asset {cid} is {known[cid]}, expected one of {', '.join(types)}")
