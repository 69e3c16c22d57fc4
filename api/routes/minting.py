"""POST /v1/twins and POST /v1/batches: accepted with 202 and a job the worker carries out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import (
    BrandCaller,
    BrandCallerDep,
    ChainDep,
    Credentials,
    EngineDep,
    MintWorkerDep,
    SessionDep,
    SettingsDep,
    brand_caller_of,
    request_session,
)
from registry.brands.service import collections_of
from registry.chain.client import TwinmarkChain
from registry.errors import InvalidInput
from registry.jobs import service as jobs
from registry.jobs.schemas import JobOut
from registry.jobs.worker import MintWorker
from registry.settings import Settings
from registry.twins.schemas import BatchIn, TwinIn

router = APIRouter(tags=["minting"])
BODY_MODELS = (BatchIn,)  # read by the route itself (JSON or CSV); its schema is registered by the app
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _accept(
    response: Response,
    settings: Settings,
    chain: TwinmarkChain,
    worker: MintWorker,
    s: Session,
    who: BrandCaller,
    twins: list[Any],
    kind: str,
    key: str | None,
    body: Any,
) -> JobOut:
    submitted = jobs.submit(
        s,
        settings,
        brand=who.brand,
        collections=collections_of(s, who.brand.id),
        chain_id=chain.chain_id,
        caller=who.caller,
        alive=lambda contract, token: chain.twin(contract, token) is not None,
        twins=twins,
        kind=kind,
        idempotency_key=key,
        digest=jobs.request_digest(kind, body),
    )
    s.commit()
    if submitted.created:
        worker.wake(submitted.job.total)
    response.headers["Location"] = f"/v1/jobs/{submitted.job.id}"
    if not submitted.created:
        response.headers["Idempotent-Replayed"] = "true"
    return jobs.accepted_view(submitted, s)


# The single twin's body as FastAPI would document it (its models are registered with BatchIn's).
_TWIN_SCHEMA = TypeAdapter(TwinIn).json_schema(ref_template="#/components/schemas/{model}")
_TWIN_SCHEMA.pop("$defs", None)
_TWIN = TypeAdapter(TwinIn)


@router.post(
    "/v1/twins",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": _TWIN_SCHEMA | {"title": "Twin"}}}, "required": True}
    },
)
async def mint_twin(
    request: Request,
    response: Response,
    engine: EngineDep,
    settings: SettingsDep,
    chain: ChainDep,
    worker: MintWorkerDep,
    credentials: Credentials,
    key: IdempotencyKey = None,
) -> JobOut:
    """One twin: `kind` is `physical` (GTIN, serial, passport fields) or `virtual` (GLB, licence)."""
    # The hot path of a shop posting one twin per request: the key's check, the body's validation,
    # the job's rows and the answer in one thread hand-off and one transaction (as sync dependencies,
    # the session and the caller's three steps were a thread-pool round trip each). The body is read
    # here, not declared, so that a request without a valid key is a 401 whatever its body.
    raw = await request.body()
    return await run_in_threadpool(_accept_one, engine, settings, chain, worker, credentials, raw, response, key)


def _accept_one(
    engine: Engine,
    settings: Settings,
    chain: TwinmarkChain,
    worker: MintWorker,
    credentials: HTTPAuthorizationCredentials | None,
    raw: bytes,
    response: Response,
    key: str | None,
) -> JobOut:
    with request_session(engine) as s:
        who = brand_caller_of(s, credentials)
        try:
            twin = _TWIN.validate_json(raw)
        except ValidationError as exc:
            # As FastAPI reports a declared body's errors (their place under `body`).
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        body = twin.model_dump(mode="json")
        return _accept(response, settings, chain, worker, s, who, [twin], "twin", key, body)


def csv_twin(row: Mapping[str, str | None]) -> dict[str, Any]:
    """One CSV row as a physical twin's input (ValueError on a malformed `materials` percentage)."""
    item: dict[str, Any] = {"kind": "physical", "attributes": {}}
    for column, cell in row.items():
        value = (cell or "").strip()
        if not value:
            continue
        if column.startswith("attr:"):
            item["attributes"][column[5:]] = value
        elif column == "images":
            item["images"] = value.split()
        elif column == "materials":
            materials = []
            for part in value.split(";"):
                name, _, percent = part.partition(":")
                materials.append({"name": name.strip(), **({"percent": float(percent)} if percent.strip() else {})})
            item["materials"] = materials
        else:
            item[column] = value
    return item


def _from_csv(text: str) -> list[dict[str, Any]]:
    """Physical twins from CSV: name, description, gtin, serial, lot, images (space-separated CIDs),
    materials (`name:percent;...`), origin_country, manufactured_on, care, and `attr:<trait>` columns."""
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise InvalidInput(f"CSV line {line} has more fields than the header")
        rows.append(csv_twin(row))
    if not rows:
        raise InvalidInput("the CSV has no rows")
    return rows


def _parse_batch(raw: bytes, content_type: str) -> BatchIn:
    try:
        if content_type == "text/csv":
            body: Any = {"twins": _from_csv(raw.decode("utf-8-sig"))}
        else:
            body = json.loads(raw)
        return BatchIn.model_validate(body)
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", errors=len(exc.errors())) from None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


@router.post(
    "/v1/batches",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
)
async def mint_batch(
    request: Request,
    response: Response,
    who: BrandCallerDep,
    settings: SettingsDep,
    chain: ChainDep,
    worker: MintWorkerDep,
    s: SessionDep,
    key: IdempotencyKey = None,
) -> JobOut:
    """Many twins as JSON (`{"twins": [...]}`) or CSV (physical twins); split into on-chain batches of at most 4,096."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    # Parsing and validating tens of thousands of twins takes CPU seconds: off the event loop, so the
    # process keeps answering (health checks, verification) meanwhile.
    batch = await run_in_threadpool(_parse_batch, raw, content_type)
    return await run_in_threadpool(
        _accept, response, settings, chain, worker, s, who, batch.twins, "batch", key, batch.model_dump(mode="json")
    )
