"""Asset upload: images and GLB models, validated before they reach IPFS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile, status

from api.deps import BrandDep, RuntimeDep, SessionDep
from registry.assets.schemas import AssetOut
from registry.assets.service import store_asset
from registry.errors import PayloadTooLarge

router = APIRouter(prefix="/v1/assets", tags=["assets"])


@router.post("", status_code=status.HTTP_201_CREATED)
def upload_asset(file: Annotated[UploadFile, File()], brand: BrandDep, rt: RuntimeDep, s: SessionDep) -> AssetOut:
    """Uploads an image (PNG, JPEG, WebP) or a GLB model; returns its CID, size and media type."""
    limit = rt.settings.max_asset_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"asset larger than the {limit}-byte limit")
    asset = store_asset(s, rt.store, brand.id, data, file.filename, max_bytes=limit)
    return AssetOut(cid=asset.cid, size=asset.size, media_type=asset.media_type, uri=f"ipfs://{asset.cid}")
