"""Receipts: the key venues pin (public), the brand's staff checking one online (recording its first
use) or uploading a venue's offline journal, and the owner's QR page."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader

from api.deps import BrandDep, ChainDep, SessionDep, SettingsDep
from registry.pages.catalog import texts_for
from registry.pages.locale import negotiate
from registry.privileges import uses
from registry.privileges.receipts import ForgedReceipt, decode, domain, receipt_account
from registry.privileges.schemas import ReceiptCheckIn, ReceiptKeyOut, ReceiptVerdict, UsesIn, UsesOut

router = APIRouter(tags=["receipts"])
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"), autoescape=True, auto_reload=False
)
# The QR page: no script at all, the QR an inline data: image, the receipt never sent on as a referrer.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/v1/receipts/key")
def receipt_key(settings: SettingsDep, chain: ChainDep) -> ReceiptKeyOut:
    """The address every receipt is signed by, and the EIP-712 domain: a venue pins both, then checks
    receipts with no network (`twinmark receipt check`)."""
    return ReceiptKeyOut(
        address=receipt_account(settings).address, chain_id=chain.chain_id, domain=domain(chain.chain_id)
    )


@router.post("/v1/receipts/check")
def check_receipt(
    body: ReceiptCheckIn, brand: BrandDep, s: SessionDep, settings: SettingsDep, chain: ChainDep
) -> ReceiptVerdict:
    """Checks a receipt shown at a venue and, if it is good, records its use: a forged, expired,
    used or revoked one (the brand revoked it, or the twin changed hands before it was used) is refused.
    Another brand's receipt is `unknown`."""
    return uses.check(
        s,
        text=body.receipt,
        pinned=receipt_account(settings).address,
        chain_id=chain.chain_id,
        brand_id=brand.id,
        venue=body.venue,
        now=int(time.time()),
        use=True,
    )


@router.post("/v1/receipts/uses")
def upload_uses(body: UsesIn, brand: BrandDep, s: SessionDep, settings: SettingsDep, chain: ChainDep) -> UsesOut:
    """A venue's offline journal (`twinmark receipt sync`): the first use of each receipt is recorded,
    a later one from elsewhere is a double use (counted on the redemption, shown in the console)."""
    outcomes = uses.record_uses(
        s,
        uses=body.uses,
        pinned=receipt_account(settings).address,
        chain_id=chain.chain_id,
        brand_id=brand.id,
        now=int(time.time()),
    )
    return UsesOut(uses=outcomes)


@router.get("/receipt", response_class=HTMLResponse, include_in_schema=False)
def receipt_page(request: Request, r: Annotated[str, Query(min_length=10, max_length=2000)]) -> HTMLResponse:
    """The receipt as a QR for the owner's phone (the venue scans it; nothing here is checked)."""
    lang = negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))
    t = texts_for(lang)
    try:
        receipt, _ = decode(r)
    except ForgedReceipt:
        page = TEMPLATES.get_template("receipt.html").render(t=t, lang=lang, qr=None, receipt=None)
        return HTMLResponse(page, status_code=422, headers=_PAGE_HEADERS)
    qr = segno.make(r.strip(), error="m").svg_data_uri(scale=5, border=4)
    expires = datetime.fromtimestamp(receipt.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = TEMPLATES.get_template("receipt.html").render(t=t, lang=lang, qr=qr, receipt=receipt, expires=expires)
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get("/receipt/qr.svg", include_in_schema=False)
def receipt_qr(r: Annotated[str, Query(min_length=10, max_length=2000)]) -> Response:
    """The receipt's QR as an image (the owner's "My items" shows it, linking to the receipt page)."""
    try:
        decode(r)
    except ForgedReceipt:
        return Response(status_code=422, headers=_PAGE_HEADERS)
    buffer = io.BytesIO()
    segno.make(r.strip(), error="m").save(buffer, kind="svg", scale=4, border=4)
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers=_PAGE_HEADERS)
