"""Asset upload: images and GLB models, validated before they reach IPFS."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import BrandDep, SessionDep, SettingsDep, StoreDep
from registry.assets.budget import ModelLimits
from registry.assets.schemas import AssetOut
from registry.assets.service import stats_of, store_asset
from registry.errors import InvalidInput, PayloadTooLarge

router = APIRouter(prefix="/v1/assets", tags=["assets"])

_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    }
}


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_MULTIPART)
async def upload_asset(
    request: Request, brand: BrandDep, settings: SettingsDep, store: StoreDep, s: SessionDep
) -> AssetOut:
    """Uploads an image (PNG, JPEG, WebP) or a GLB model (multipart field `file`); returns its CID,
    size and media type. A GLB must pass the Khronos glTF Validator (its errors refuse it with a 422
    listing each `code`, `pointer` and `message` under `issues`); its counts come back as `stats`.
    A model declaring more work than its bytes justify, or more triangles or vertices than the
    game-ready ceilings, is refused before the validator runs (422 `model-too-complex`). A brand
    validates one model at a time (others of its uploads wait briefly, then 429 with Retry-After).
    The body is read only once the key is known (the route declares no body parameter, so FastAPI
    resolves the caller first)."""
    limit = settings.max_asset_bytes
    form = await request.form(max_files=1, max_fields=1)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidInput("send the file as the multipart field `file`")
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"asset larger than the {limit}-byte limit")
        asset = await run_in_threadpool(
            store_asset,
            s,
            store,
            brand.id,
            data,
            file.filename,
            max_bytes=limit,
            limits=ModelLimits.of(settings),
        )
    finally:
        await form.close()
    return AssetOut(
        cid=asset.cid,
        size=asset.size,
        media_type=asset.media_type,
        uri=f"ipfs://{asset.cid}",
        url=f"{settings.gateway_base}/{asset.cid}",
        stats=stats_of(asset),
    )
