"""One indexed twin as a game loads it, from its metadata document: representations per body shape
with https GLB URLs, CIDs, sizes and counts, preview, VRM 1.0 licence, linked physical twin, status.

Representation fields are read under Decentraland's names (`bodyShapes`, `mainFile`, `contentType`,
new content) and under the earlier ones (`body_shapes`, `main_file`, `content_type`)."""

from __future__ import annotations

from typing import Any

from registry.chain.layout import status_name
from registry.ipfs.urls import gateway_url
from registry.twins.models import Twin
from registry.wardrobe.schemas import BrandRef, ContentFile, ModelFile, RepresentationOut, WardrobeItem, WardrobeTwinRef

Files = dict[str, dict[str, Any]]  # cid -> {size, media_type, triangles, ...} known of the file


BASE_AVATARS = "urn:decentraland:off-chain:base-avatars:"


def _urn(shape: str) -> str:
    """Decentraland's body-shape URN, whichever way the content names it (earlier twins: `BaseMale`)."""
    return shape if shape.startswith("urn:") else BASE_AVATARS + shape


def _cid(value: Any, contents: Any) -> str | None:
    """The CID a representation's main file names: `ipfs://{cid}`, or a file name resolved through
    Decentraland's `contents` ([{key, hash|url}]), or a bare CID."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("ipfs://"):
        return value.removeprefix("ipfs://").split("/", 1)[0]
    if isinstance(contents, list):
        for entry in contents:
            if isinstance(entry, dict) and entry.get("key") == value:
                return _cid(entry.get("hash") or entry.get("url"), None)
    if value.startswith(("baf", "Qm")) and "." not in value:
        return value
    return None


def _wearable(meta: dict[str, Any]) -> dict[str, Any]:
    twinmark = meta.get("twinmark")
    found = twinmark.get("wearable") if isinstance(twinmark, dict) else None
    if not isinstance(found, dict):
        found = meta.get("data")  # Decentraland's own layout
    return found if isinstance(found, dict) else {}


def category_of(meta: dict[str, Any]) -> str | None:
    """The wearable's category, as the item shows it."""
    category = _wearable(meta).get("category")
    return category if isinstance(category, str) else None


def referenced(meta: dict[str, Any]) -> list[str]:
    """The CIDs of an item's model files and preview (for one lookup of sizes and counts per page)."""
    wearable = _wearable(meta)
    cids = [_cid(r.get("mainFile", r.get("main_file")), r.get("contents")) for r in _representations(wearable)]
    cids.append(_cid(meta.get("image"), None))
    return [c for c in cids if c is not None]


def _representations(wearable: dict[str, Any]) -> list[dict[str, Any]]:
    found = wearable.get("representations")
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


def _file(cid: str, gateway_base: str, files: Files) -> ContentFile:
    known = files.get(cid, {})
    url = gateway_url(f"ipfs://{cid}", gateway_base)
    return ContentFile(
        cid=cid, uri=f"ipfs://{cid}", url=url, size=known.get("size"), media_type=known.get("media_type")
    )


def _model_file(cid: str, gateway_base: str, files: Files) -> ModelFile:
    """A representation's GLB, with the glTF Validator's counts where the assets service keeps them."""
    known = files.get(cid, {})
    return ModelFile(
        cid=cid,
        uri=f"ipfs://{cid}",
        url=gateway_url(f"ipfs://{cid}", gateway_base),
        size=known.get("size"),
        media_type=known.get("media_type"),
        triangles=known.get("triangles"),
        vertices=known.get("vertices"),
        materials=known.get("materials"),
        textures=known.get("textures"),
        draw_calls=known.get("draw_calls"),
    )


def item(twin: Twin, meta: dict[str, Any], gateway_base: str, files: Files, brand_name: str | None) -> WardrobeItem:
    """The item; ValueError (pydantic's ValidationError) when the metadata holds what no item can."""
    wearable = _wearable(meta)
    representations = []
    for r in _representations(wearable):
        cid = _cid(r.get("mainFile", r.get("main_file")), r.get("contents"))
        if cid is None:
            continue
        shapes = r.get("bodyShapes", r.get("body_shapes", []))
        representations.append(
            RepresentationOut(
                body_shapes=[_urn(s) for s in shapes if isinstance(s, str)] if isinstance(shapes, list) else [],
                main_file=_model_file(cid, gateway_base, files),
                content_type=r.get("contentType", r.get("content_type")),
            )
        )
    preview = _cid(meta.get("image"), None)
    physical = wearable.get("physical_twin")
    license_ = wearable.get("license")
    twinmark = meta.get("twinmark") if isinstance(meta.get("twinmark"), dict) else {}
    return WardrobeItem(
        contract=twin.collection,
        token_id=twin.token_id,
        kind=twin.kind,
        name=twin.name,
        brand=BrandRef(id=twin.brand_id, name=brand_name or (twinmark or {}).get("brand")),
        category=category_of(meta),
        representations=representations,
        preview=None if preview is None else _file(preview, gateway_base, files),
        license=license_ if isinstance(license_, dict) else None,
        physical_twin=(
            WardrobeTwinRef(contract=physical["contract"], token_id=int(physical["token_id"]))
            if isinstance(physical, dict) and "contract" in physical and "token_id" in physical
            else None
        ),
        status=status_name(twin.status),
        stolen=status_name(twin.status) == "stolen",
        metadata_cid=twin.metadata_cid,
        token_uri=twin.token_uri,
        verify_url=f"/v1/verify/{twin.collection}/{twin.token_id}",
    )
