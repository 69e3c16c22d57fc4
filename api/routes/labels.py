"""QR codes of twins' GS1 Digital Links (public), and a job's labels as one ZIP (its brand only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api.deps import BrandDep, SessionDep, SettingsDep
from api.routes.common import TokenId, checksum
from registry.errors import TooManyRequests
from registry.jobs import service as jobs
from registry.labels import qr
from registry.labels.service import job_labels, labels_zip
from registry.settings import Settings
from registry.twins.service import get_twin, twin_digital_link

router = APIRouter(tags=["labels"])

Size = Annotated[
    int,
    Query(
        ge=qr.MIN_SIZE,
        le=qr.MAX_SIZE,
        description="edge length in pixels, 4-module quiet zone included (rounded down to whole pixels per module)",
    ),
]
# A job's labels are up to 50,000 twins: PNGs of at most 1,024 px (8.7 cm at 300 dpi; the SVGs scale
# to any size) and one export per brand at a time keep one request from taking minutes of CPU.
ZIP_MAX_SIZE = 1024
ZipSize = Annotated[int, Query(ge=qr.MIN_SIZE, le=ZIP_MAX_SIZE, description="PNG edge length in pixels")]
_EXPORTING: dict[str, float] = {}  # brand -> start; stale after an hour (a stream never consumed)
_EXPORTING_LOCK = threading.Lock()
CACHE = {"Cache-Control": "public, max-age=86400"}  # a twin's Digital Link never changes


def _link(settings: Settings, s: Session, contract: str, token_id: int) -> str:
    return twin_digital_link(get_twin(s, checksum(contract), token_id), settings.base_url)


@router.get(
    "/v1/twins/{contract}/{token_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "QR code"}},
)
def qr_svg(
    contract: str, token_id: TokenId, settings: SettingsDep, s: SessionDep, size: Size = qr.DEFAULT_SIZE
) -> Response:
    """The twin's GS1 Digital Link as a QR code (SVG, error correction Q, quiet zone)."""
    return Response(qr.svg(_link(settings, s, contract, token_id), size), media_type="image/svg+xml", headers=CACHE)


@router.get(
    "/v1/twins/{contract}/{token_id}/qr.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "description": "QR code"}
    },
)
def qr_png(
    contract: str, token_id: TokenId, settings: SettingsDep, s: SessionDep, size: Size = qr.DEFAULT_SIZE
) -> Response:
    """The twin's GS1 Digital Link as a QR code (PNG, error correction Q, quiet zone)."""
    return Response(qr.png(_link(settings, s, contract, token_id), size), media_type="image/png", headers=CACHE)


@router.get(
    "/v1/jobs/{job_id}/labels.zip",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "labels.csv, then one SVG and one PNG per twin, named {gtin}_{serial}",
        }
    },
)
def job_labels_zip(
    job_id: str, brand: BrandDep, settings: SettingsDep, s: SessionDep, size: ZipSize = qr.DEFAULT_SIZE
) -> StreamingResponse:
    """The brand's job's labels for the print shop: the QR code of each minted physical twin (SVG and
    PNG) and `labels.csv` (contract, token id, GTIN, serial, lot, link). Another brand's job is a 404."""
    labels = job_labels(s, jobs.brand_job(s, brand, job_id), settings.base_url)
    with _EXPORTING_LOCK:
        if time.monotonic() - _EXPORTING.get(brand.id, -3600.0) < 3600:
            raise TooManyRequests("one label export per brand at a time: retry when it ends", retry_after=10)
        _EXPORTING[brand.id] = time.monotonic()

    def body() -> Iterator[bytes]:
        try:
            yield from labels_zip(labels, size)
        finally:
            with _EXPORTING_LOCK:
                _EXPORTING.pop(brand.id, None)

    return StreamingResponse(
        body(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="labels-{job_id}.zip"'},
    )
