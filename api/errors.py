"""Every error leaves as RFC 9457 `application/problem+json` with a stable `type`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.db.outage import REQUESTS
from registry.errors import DatabaseUnavailable, RangeNotSatisfiable, TooManyRequests, TwinmarkError
from registry.redaction import scrub, scrub_value

PROBLEM_BASE = "https://twinmark.dev/problems/"
log = logging.getLogger(__name__)


def problem(status: int, code: str, title: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": scrub(detail),  # no configured URL, token or key ever leaves in an answer
        "instance": request.url.path,
    }
    body.update(scrub_value(extra))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


class Problem(BaseModel):
    """An RFC 9457 problem, as every error leaves; some carry more members (`errors`, `tx_hash`...)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str


def document_problems(schema: dict[str, Any]) -> None:
    """Declares the 422 answers FastAPI documents as its `HTTPValidationError` as what they are: problems
    (a generated client parses a 422 by the schema declared for it)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema()
    answer = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "422" in operation.get("responses", {}):
                operation["responses"]["422"] = {
                    "description": "Invalid input",
                    "content": {"application/problem+json": {"schema": answer}},
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def install(app: FastAPI) -> None:
    @app.exception_handler(TwinmarkError)
    async def domain_error(request: Request, exc: TwinmarkError) -> JSONResponse:
        if isinstance(exc, DatabaseUnavailable):
            REQUESTS.failed(exc)  # one line when the outage starts, one when it ends
        elif exc.status >= 500:
            log.warning("%s on %s: %s", exc.code, request.url.path, exc.detail)
        response = problem(exc.status, exc.code, exc.title, exc.detail, request, **exc.extra)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, RangeNotSatisfiable):
            response.headers["Content-Range"] = f"bytes */{exc.size}"
        elif exc.status == 503:  # a dependency is away (chain, content, database, fees above the cap)
            response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return problem(422, "invalid-input", "Invalid input", f"{where}: {first['msg']}", request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
            exc.status_code, "http-error"
        )
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail), request)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def database_away(request: Request, exc: Exception) -> JSONResponse:
        REQUESTS.failed(exc)  # one line when the outage starts, one when it ends: not one per request
        detail = "the database is unavailable (locked or restarting); retry shortly"
        response = problem(503, "database-unavailable", "Database unavailable", detail, request)
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "internal-error", "Internal error", "the service failed; the error was logged", request)
