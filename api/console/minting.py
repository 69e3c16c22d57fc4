"""Minting in the console: a CSV upload (refused rows listed in place), one twin by form, an asset
upload with the glTF validator's answer and the platform profiles, the brand's jobs, and a job's
progress as server-sent events. Operators act; analysts read. Every form carries a hidden
idempotency key drawn when the form is rendered: a double submit or a re-POST answers the same job."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.console import rows
from api.console.deps import AnalystDep, OperatorDep, client_network
from api.console.paging import paged
from api.console.render import render
from api.deps import ChainDep, EngineDep, MintWorkerDep, SessionDep, SettingsDep, StoreDep
from registry.assets.budget import ModelLimits
from registry.assets.service import stats_of, store_asset
from registry.auth.service import Caller
from registry.brands.service import collections_of, get_brand
from registry.dashboard.lists import page_of_jobs
from registry.db.engine import session_scope
from registry.errors import NotFound, TwinmarkError
from registry.jobs import service as jobs
from registry.jobs.models import Job, JobState
from registry.settings import Settings
from registry.staff.audit import record, record_now
from registry.staff.models import StaffRole
from registry.staff.sessions import StaffPrincipal
from registry.twins.schemas import TwinIn
from registry.wearables.profiles import PROFILES, Garment, Model, evaluate

router = APIRouter(include_in_schema=False)
_TWIN = TypeAdapter(TwinIn)
_KEY = re.compile(r"^[0-9a-f]{32}$")
JOBS_LISTED = 50
STREAM_SECONDS = 300.0  # a progress stream's lifetime; the browser reconnects and gets the current state
POLL_SECONDS = 0.4
HEARTBEAT_SECONDS = 15.0
DONE = (JobState.completed, JobState.failed)


def _caller(p: StaffPrincipal) -> Caller:
    # The submission service names who submitted; it only uses the key to seal claim secrets, which
    # the console never asks for (claimable twins are refused: they belong to an API key).
    return Caller(key_id=f"staff:{p.staff_id}", key="", brand_id=p.brand_id)


def _idempotency(form: FormData) -> str | None:
    value = form.get("idem")
    return f"console-{value}" if isinstance(value, str) and _KEY.fullmatch(value) else None


def _page(request: Request, p: StaffPrincipal, s: Session, *, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    jobs_page = paged(request, "cursor", lambda cursor: page_of_jobs(s, p.brand_id, cursor, limit=JOBS_LISTED))
    return render(
        request,
        "minting.html",
        principal=p,
        section="minting",
        status_code=422 if jobs_page.refused and status_code < 400 else status_code,
        jobs=jobs_page,
        idem=uuid.uuid4().hex,
        profiles=PROFILES,
        may_act=p.may(StaffRole.operator),
        **ctx,
    )


@router.get("/console/minting", response_class=HTMLResponse)
def minting_page(request: Request, p: AnalystDep, s: SessionDep) -> HTMLResponse:
    return _page(request, p, s)


def _submit(
    s: Session,
    settings: Settings,
    chain: ChainDep,
    p: StaffPrincipal,
    twins: list[Any],
    kind: str,
    key: str | None,
) -> jobs.Submitted:
    brand = get_brand(s, p.brand_id)
    dumped = [t.model_dump(mode="json") for t in twins]
    body = {"twins": dumped} if kind == "batch" else dumped[0]  # as the API digests the same request
    return jobs.submit(
        s,
        settings,
        brand=brand,
        collections=collections_of(s, brand.id),
        chain_id=chain.chain_id,
        caller=_caller(p),
        alive=lambda contract, token: chain.twin(contract, token) is not None,
        twins=twins,
        kind=kind,
        idempotency_key=key,
        digest=jobs.request_digest(kind, body),
    )


def _accepted(s: Session, p: StaffPrincipal, worker: MintWorkerDep, submitted: jobs.Submitted) -> RedirectResponse:
    if submitted.created:
        record(s, p, "job.submit", target=submitted.job.id, detail=f"{submitted.job.total} twins")
        s.commit()
        worker.wake(submitted.job.total)
    # 303: the browser follows with a GET, so reloading the job's page never posts again.
    return RedirectResponse(f"/console/minting/jobs/{submitted.job.id}", status_code=303)


@router.post("/console/minting/batches", response_model=None)
async def upload_batch(
    request: Request,
    p: OperatorDep,
    s: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    worker: MintWorkerDep,
    engine: EngineDep,
) -> Response:
    form = await request.form()
    upload = form.get("csv")
    raw = await upload.read() if isinstance(upload, UploadFile) else b""
    key = _idempotency(form)

    def handle() -> Response:
        if key is not None and (done := jobs.find_by_key(s, p.brand_id, key)) is not None:
            return RedirectResponse(f"/console/minting/jobs/{done.id}", status_code=303)  # a double submit
        numbered, errors = rows.read_twins(raw)
        if not errors:
            errors = rows.taken(s, numbered)
            # The same form sent twice at once: the other request may have stored its job (and taken
            # these serials) since the look-up above; its job is this request's answer.
            if errors and key is not None and (done := jobs.find_by_key(s, p.brand_id, key)) is not None:
                return RedirectResponse(f"/console/minting/jobs/{done.id}", status_code=303)
        if errors:
            record_now(
                engine,
                p,
                "job.submit",
                outcome="failed",
                detail=f"CSV refused: {len(errors)} row errors",
                network=client_network(request, settings),
            )
            return _page(request, p, s, status_code=422, row_errors=errors)
        try:
            submitted = _submit(s, settings, chain, p, [t for _, t in numbered], "batch", key)
        except TwinmarkError as exc:
            record_now(engine, p, "job.submit", outcome="failed", detail=exc.code)
            return _page(request, p, s, status_code=exc.status, batch_error=exc.detail)
        return _accepted(s, p, worker, submitted)

    return await run_in_threadpool(handle)


def _single(form: FormData) -> dict[str, Any]:
    """The single-twin form as a twin's input (empty fields left out)."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    fields = {"name": text("name"), "description": text("description")}
    if text("kind") == "virtual":
        item: dict[str, Any] = {"kind": "virtual", "preview_image": text("preview_image")}
        item["representations"] = [{"body_shapes": ["BaseMale", "BaseFemale"], "model": text("model")}]
        if text("category"):
            item["category"] = text("category")
    else:
        item = {"kind": "physical", "gtin": text("gtin"), "serial": text("serial")}
        for name in ("lot", "origin_country"):
            if text(name):
                item[name] = text(name)
        if text("image"):
            item["images"] = [text("image")]
    return item | {k: v for k, v in fields.items() if v or k == "name"}


@router.post("/console/minting/twins", response_model=None)
async def mint_one(
    request: Request,
    p: OperatorDep,
    s: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    worker: MintWorkerDep,
    engine: EngineDep,
) -> Response:
    form = await request.form()
    key = _idempotency(form)
    item = _single(form)

    def handle() -> Response:
        if key is not None and (done := jobs.find_by_key(s, p.brand_id, key)) is not None:
            return RedirectResponse(f"/console/minting/jobs/{done.id}", status_code=303)
        try:
            twin = _TWIN.validate_python(item)
        except ValidationError as exc:
            errors = [rows.RowError(0, rows.column_of(e["loc"]), rows.message_of(e)) for e in exc.errors()]
            return _page(request, p, s, status_code=422, twin_errors=errors, twin_form=item)
        try:
            submitted = _submit(s, settings, chain, p, [twin], "twin", key)
        except TwinmarkError as exc:
            record_now(engine, p, "job.submit", outcome="failed", detail=exc.code)
            return _page(request, p, s, status_code=exc.status, twin_error=exc.detail, twin_form=item)
        return _accepted(s, p, worker, submitted)

    return await run_in_threadpool(handle)


@router.post("/console/minting/assets", response_model=None)
async def upload_asset(
    request: Request, p: OperatorDep, s: SessionDep, settings: SettingsDep, store: StoreDep
) -> Response:
    """The asset service, as `POST /v1/assets` calls it: a GLB passes the Khronos glTF Validator or is
    refused with its issues; its counts are then checked against every platform profile."""
    form = await request.form(max_files=1)
    upload = form.get("file")
    category = form.get("category")
    if not isinstance(upload, UploadFile):
        return _page(request, p, s, status_code=422, asset_error="send a file")
    data = await upload.read(settings.max_asset_bytes + 1)

    def handle() -> Response:
        try:
            asset = store_asset(
                s,
                store,
                p.brand_id,
                data,
                upload.filename,
                max_bytes=settings.max_asset_bytes,
                limits=ModelLimits.of(settings),
            )
        except TwinmarkError as exc:
            issues = exc.extra.get("issues") or []
            return _page(request, p, s, status_code=exc.status, asset_error=exc.detail, asset_issues=issues)
        stats = stats_of(asset)
        results: dict[str, list[str]] | None = None
        if stats is not None:
            chosen = category if isinstance(category, str) and category else None
            model = Model(asset.cid, json.loads(asset.gltf_stats or "{}") | {"size": asset.size})
            results = evaluate(Garment(chosen, [], [model]))
        record(s, p, "asset.upload", target=asset.cid, detail=asset.media_type)
        return _page(request, p, s, asset=asset, asset_stats=stats, asset_profiles=results)

    return await run_in_threadpool(handle)


@router.get("/console/minting/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request, p: AnalystDep, s: SessionDep, settings: SettingsDep) -> HTMLResponse:
    job = jobs.brand_job(s, get_brand(s, p.brand_id), job_id)  # another brand's job: 404
    view = jobs.job_view(s, job, gateway_base=settings.gateway_base, limit=0)
    return render(request, "minting_job.html", principal=p, section="minting", job=view)


def _progress(engine: Engine, brand_id: str, job_id: str) -> dict[str, Any] | None:
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.brand_id != brand_id:
            return None
        percent = 100 if job.state == JobState.completed else (100 * job.recorded // job.total if job.total else 0)
        return {
            "state": job.state,
            "recorded": job.recorded,
            "requested": job.total,
            "percent": percent,
            "error": job.error,
        }


def _event(data: dict[str, Any], name: str = "progress") -> bytes:
    ident = f"{data['recorded']}-{data['state']}"
    return f"id: {ident}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.get("/console/api/jobs/{job_id}/events", response_model=None)
async def job_events(job_id: str, request: Request, p: AnalystDep, engine: EngineDep) -> StreamingResponse:
    """The job's progress as server-sent events: the current state at once (also after a reconnect,
    whatever `Last-Event-ID` says: state is cheap to re-send), then each change, until the job completes
    or fails (`event: end`) or the stream's lifetime ends (the browser then reconnects)."""
    first = await run_in_threadpool(_progress, engine, p.brand_id, job_id)
    if first is None:
        raise NotFound(f"no job {job_id}")

    async def stream() -> AsyncIterator[bytes]:
        current: dict[str, Any] | None = first
        last: dict[str, Any] | None = None
        started = beat = time.monotonic()
        yield b"retry: 2000\n\n"
        while current is not None:
            if current != last:
                yield _event(current)
                last, beat = current, time.monotonic()
            if current["state"] in DONE:
                yield _event(current, "end")
                return
            if time.monotonic() - started > STREAM_SECONDS or await request.is_disconnected():
                return
            if time.monotonic() - beat > HEARTBEAT_SECONDS:
                yield b": keep-alive\n\n"
                beat = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
            current = await run_in_threadpool(_progress, engine, p.brand_id, job_id)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
