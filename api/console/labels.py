"""Labels and NFC in the console: a job's labels for the print shop, the brand's NTAG 424 master key
(set or replaced, never shown back), tags enrolled one by one or from a CSV of tag identities (all rows
or none), and the state of every tag. Operators act; analysts read."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import tuple_
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.console import rows
from api.console.deps import AnalystDep, OperatorDep
from api.console.minting import JOBS_LISTED
from api.console.paging import paged
from api.console.render import render
from api.deps import ChainDep, ServerKeyDep, SessionDep, SettingsDep
from api.routes.labels import job_labels_zip
from registry.brands.models import Brand
from registry.brands.service import collections_of, get_brand
from registry.dashboard.lists import page_of_jobs, page_of_tags
from registry.errors import InvalidInput, NotFound, TwinmarkError
from registry.labels import qr
from registry.nfc import service as nfc
from registry.nfc.models import NfcMasterKey, NfcTag
from registry.nfc.schemas import TagIn
from registry.settings import Settings
from registry.staff.audit import record
from registry.staff.models import StaffRole
from registry.staff.sessions import StaffPrincipal
from registry.twins.gs1 import normalize_gtin
from registry.twins.models import Twin

router = APIRouter(include_in_schema=False)
TAGS_LISTED = 200


def _tag_rows(s: Session, tags: list[NfcTag]) -> list[dict[str, Any]]:
    """Each tag with its twin (one query for the page) and whether the twin's content names the tag."""
    keys = {(t.collection, t.token_id) for t in tags}
    found = s.exec(select(Twin).where(tuple_(col(Twin.collection), col(Twin.token_id)).in_(keys))) if keys else ()
    twins: dict[tuple[str, int], Twin] = {(tw.collection, tw.token_id): tw for tw in found}
    return [
        {"tag": t, "twin": tw, "bound": nfc.bound_in_content(tw, t) if tw else False}
        for t in tags
        for tw in [twins.get((t.collection, t.token_id))]
    ]


def _page(request: Request, p: StaffPrincipal, s: Session, *, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    brand = get_brand(s, p.brand_id)
    jobs = paged(request, "jobs_cursor", lambda c: page_of_jobs(s, brand.id, c, labelled=True, limit=JOBS_LISTED))
    tags = paged(request, "tags_cursor", lambda c: page_of_tags(s, brand.id, c, limit=TAGS_LISTED))
    return render(
        request,
        "labels.html",
        principal=p,
        section="labels",
        status_code=422 if (jobs.refused or tags.refused) and status_code < 400 else status_code,
        jobs=jobs,
        collections=collections_of(s, brand.id),
        master_key=s.get(NfcMasterKey, brand.id),
        tags=tags,
        tag_rows=_tag_rows(s, tags.rows),
        may_act=p.may(StaffRole.operator),
        done=request.query_params.get("done"),
        **ctx,
    )


@router.get("/console/labels", response_class=HTMLResponse)
def labels_page(request: Request, p: AnalystDep, s: SessionDep) -> HTMLResponse:
    return _page(request, p, s)


@router.get("/console/labels/jobs/{job_id}/labels.zip", response_model=None)
def download_labels(job_id: str, p: OperatorDep, s: SessionDep, settings: SettingsDep) -> StreamingResponse:
    """The job's labels through the API's own export (one at a time per brand; another brand's job: 404)."""
    answer = job_labels_zip(job_id, get_brand(s, p.brand_id), settings, s, qr.DEFAULT_SIZE)
    record(s, p, "labels.download", target=job_id)
    return answer


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.post("/console/labels/master-key", response_model=None)
async def set_master_key(request: Request, p: OperatorDep, s: SessionDep, server_key: ServerKeyDep) -> Response:
    form = await request.form()
    key = _text(form, "key")

    def handle() -> Response:
        try:
            _, replaced = nfc.set_master_key(s, server_key, get_brand(s, p.brand_id), key)
        except TwinmarkError as exc:  # the message never echoes the key
            return _page(request, p, s, status_code=exc.status, master_key_error=exc.detail)
        record(s, p, "nfc.master-key", detail="replaced" if replaced else "set")
        return RedirectResponse("/console/labels?done=master-key", status_code=303)

    return await run_in_threadpool(handle)


def _twin_of(s: Session, brand: Brand, settings: Settings, row: rows.TagRow, default: str) -> tuple[str, int]:
    """(contract, token id) of the row's twin: by token id, or by GTIN and serial among the brand's twins."""
    if row.token_id is not None:
        return row.contract or default, row.token_id
    assert row.gtin is not None and row.serial is not None
    twin = s.exec(
        select(Twin).where(Twin.brand_id == brand.id, Twin.gtin == normalize_gtin(row.gtin), Twin.serial == row.serial)
    ).first()
    if twin is None:
        raise NotFound(f"no twin of this brand with GTIN {row.gtin} and serial {row.serial}")
    return twin.collection, twin.token_id


def _enrol(
    s: Session, brand: Brand, settings: Settings, server_key: str, chain_id: int, row: rows.TagRow, default: str
) -> None:
    contract, token_id = _twin_of(s, brand, settings, row, default)
    try:
        contract = to_checksum_address(contract)
    except ValueError:
        raise InvalidInput("contract is not an address") from None
    nfc.enroll(s, server_key, settings.base_url, brand, contract, token_id, row.tag, chain_id=chain_id)


@router.post("/console/labels/tags", response_model=None)
async def enrol_tag(
    request: Request, p: OperatorDep, s: SessionDep, settings: SettingsDep, chain: ChainDep, server_key: ServerKeyDep
) -> Response:
    form = await request.form()
    fields = {k: _text(form, k) for k in ("type", "uid", "address", "public_key", "signature") if _text(form, k)}

    def handle() -> Response:
        brand = get_brand(s, p.brand_id)
        try:
            token = int(_text(form, "token_id"))
        except ValueError:
            return _page(request, p, s, status_code=422, tag_error="token_id: not a whole number")
        try:
            tag = TagIn.model_validate({"type": "ntag424"} | fields)
            row = rows.TagRow(0, _text(form, "contract") or None, token, None, None, tag)
            _enrol(s, brand, settings, server_key, chain.chain_id, row, collections_of(s, brand.id)[0].address)
        except TwinmarkError as exc:
            s.rollback()
            return _page(request, p, s, status_code=exc.status, tag_error=exc.detail)
        except ValidationError as exc:
            first = exc.errors()[0]
            message = f"{rows.column_of(first['loc']) or 'tag'}: {rows.message_of(first)}"
            return _page(request, p, s, status_code=422, tag_error=message)
        record(s, p, "nfc.enrol", target=f"{row.contract or 'default'}/{token}")
        return RedirectResponse("/console/labels?done=enrolled#tags", status_code=303)

    return await run_in_threadpool(handle)


@router.post("/console/labels/tags/csv", response_model=None)
async def enrol_tags_csv(
    request: Request, p: OperatorDep, s: SessionDep, settings: SettingsDep, chain: ChainDep, server_key: ServerKeyDep
) -> Response:
    form = await request.form()
    upload = form.get("csv")
    raw = await upload.read() if isinstance(upload, UploadFile) else b""

    def handle() -> Response:
        brand = get_brand(s, p.brand_id)
        parsed, errors = rows.read_tags(raw)
        default = collections_of(s, brand.id)[0].address
        # The audit entry first: its INSERT opens the write transaction, so the savepoints below nest in
        # it (with pysqlite, a savepoint outside a transaction is one, and its release commits).
        record(s, p, "nfc.enrol-csv", detail=f"{len(parsed)} tags")
        s.flush()
        for row in parsed:
            try:
                with s.begin_nested():
                    _enrol(s, brand, settings, server_key, chain.chain_id, row, default)
            except TwinmarkError as exc:
                column = "uid" if row.tag.type == "ntag424" else "address"
                if isinstance(exc, NotFound):
                    column = "token_id" if row.token_id is not None else "serial"
                errors.append(rows.RowError(row.row, column, exc.detail))
        if errors:
            s.rollback()  # all rows or none: a half-enrolled sheet is harder to fix than a refused one
            record(s, p, "nfc.enrol-csv", outcome="failed", detail=f"CSV refused: {len(errors)} row errors")
            listed = sorted(errors, key=lambda e: e.row)[: rows.MAX_LISTED]
            return _page(request, p, s, status_code=422, tag_row_errors=listed)
        return RedirectResponse(f"/console/labels?done=enrolled-{len(parsed)}#tags", status_code=303)

    return await run_in_threadpool(handle)
