"""A pinning service for tests, speaking the IPFS Pinning Service API v1.0.0 and held to the spec's
own OpenAPI document (tests/data/ipfs-pinning-service.yaml, ipfs/pinning-services-api-spec at
bbfaa58, CC0): every request it receives and every answer it gives is validated at run time against
the document's parameter, body and response schemas (OAS 3.0 validator, formats checked), and a
mismatch is recorded in `violations` (a test asserts there is none).

Faults a test can set: `mode` "down" (503 with Retry-After), "garbage" (200 that is not JSON),
"huge" (a 5 MB body), "ok"; `lose(cid)` forgets every request for a CID (a provider that lost the
pin), `fail(cid)` marks them failed. New pins start `queued` and turn `pinned` the next time they are read."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.server import serve

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "ipfs-pinning-service.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
_REGISTRY = Registry().with_resource("urn:psa", Resource.from_contents(SPEC, default_specification=DRAFT4))
DELEGATES = ["/ip4/203.0.113.1/tcp/4001/p2p/QmServicePeerId"]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """What is wrong with `instance` under a schema of the spec, given as a `$ref` into it (every
    schema the operations use is one)."""
    wrapped = {"$ref": "urn:psa" + schema["$ref"]}
    validator = OAS30Validator(wrapped, registry=_REGISTRY, format_checker=oas30_format_checker)
    return [e.message for e in validator.iter_errors(instance)]


class PsaServer:
    def __init__(self, token: str) -> None:
        self.token = token
        self.mode = "ok"
        self.pins: dict[str, dict[str, Any]] = {}  # requestid -> PinStatus
        self.violations: list[str] = []
        self.calls: list[tuple[str, str]] = []  # (method, path)
        self.added: list[str] = []  # CIDs of every POST /pins
        self.authorizations: set[str] = set()
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/pins", self._pins, methods=["GET", "POST"]),
                Route("/pins/{requestid}", self._pin, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------ faults

    def lose(self, cid: str) -> None:
        with self._lock:
            self.pins = {k: v for k, v in self.pins.items() if v["pin"]["cid"] != cid}

    def fail(self, cid: str) -> None:
        """Every request for `cid` turns `failed` (the service gave up on it)."""
        with self._lock:
            for status in self.pins.values():
                if status["pin"]["cid"] == cid:
                    status["status"] = "failed"

    def holds(self, cid: str) -> bool:
        with self._lock:
            return any(v["pin"]["cid"] == cid and v["status"] == "pinned" for v in self.pins.values())

    # ------------------------------------------------------------ the API

    def _check(self, where: str, errors: list[str]) -> None:
        if errors:
            self.violations.append(f"{where}: {errors}")

    def _answer(self, operation: dict[str, Any], status: int, body: Any, **headers: str) -> Response:
        responses = operation["responses"]
        spec = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if spec is None:
            self.violations.append(f"answer {status} not in the spec")
        elif body is not None:
            schema = _resolve(spec)["content"]["application/json"]["schema"]
            self._check(f"answer {status}", schema_errors(schema, body))
        content = b"" if body is None else json.dumps(body).encode()
        return Response(content, status, headers=headers, media_type="application/json")

    def _fault(self, operation: dict[str, Any]) -> Response | None:
        if self.mode == "down":
            return self._answer(operation, 503, {"error": {"reason": "UNAVAILABLE"}}, **{"Retry-After": "1"})
        success = 202 if "202" in operation["responses"] else 200  # the status the client expects, off-spec bodies
        if self.mode == "garbage":
            return Response(b"<html>not a pin</html>", success, media_type="application/json")
        if self.mode == "huge":
            body = b'{"count": 0, "results": [' + b" " * 5_000_000 + b"]}"
            return Response(body, success, media_type="application/json")
        return None

    def _authorized(self, request: Request, operation: dict[str, Any]) -> Response | None:
        header = request.headers.get("authorization", "")
        self.authorizations.add(header)
        if header != f"Bearer {self.token}":
            return self._answer(operation, 401, {"error": {"reason": "UNAUTHORIZED"}})
        return None

    async def _pins(self, request: Request) -> Response:
        method = request.method.lower()
        operation = SPEC["paths"]["/pins"][method]
        self.calls.append((request.method, "/pins"))
        refusal = self._fault(operation) or self._authorized(request, operation)
        if refusal is not None:
            return refusal
        if method == "post":
            pin = json.loads(await request.body())
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            self._check("Pin body", schema_errors(schema, pin))
            status = {
                "requestid": str(uuid.uuid4()),
                "status": "queued",
                "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "pin": pin,
                "delegates": DELEGATES,
            }
            with self._lock:
                self.pins[status["requestid"]] = status
                self.added.append(pin["cid"])
            return self._answer(operation, 202, status)
        query = self._query(request, operation)
        with self._lock:
            found = [
                self._settle(p)
                for p in self.pins.values()
                if p["pin"]["cid"] in query.get("cid", [p["pin"]["cid"]])
                and p["status"] in query.get("status", ["pinned"])
            ]
        return self._answer(operation, 200, {"count": len(found), "results": found[: query.get("limit", 10)]})

    def _query(self, request: Request, operation: dict[str, Any]) -> dict[str, Any]:
        """The query's parameters as the spec defines them (form style, explode false), each checked."""
        parsed: dict[str, Any] = {}
        for ref in operation["parameters"]:
            param = _resolve(ref)
            raw = request.query_params.get(param["name"])
            if raw is None or "schema" not in param:
                continue
            schema = param["schema"]
            kind = _resolve(schema).get("type")
            value: Any = raw.split(",") if kind == "array" else int(raw) if kind == "integer" else raw
            self._check(f"parameter {param['name']}", schema_errors(_pointer_of(ref), value))
            parsed[param["name"]] = value
        return parsed

    async def _pin(self, request: Request) -> Response:
        operation = SPEC["paths"]["/pins/{requestid}"]["get"]
        self.calls.append(("GET", "/pins/{requestid}"))
        refusal = self._fault(operation) or self._authorized(request, operation)
        if refusal is not None:
            return refusal
        with self._lock:
            found = self.pins.get(request.path_params["requestid"])
            status = None if found is None else self._settle(found)
        if status is None:
            return self._answer(operation, 404, {"error": {"reason": "NOT_FOUND"}})
        return self._answer(operation, 200, status)

    @staticmethod
    def _settle(status: dict[str, Any]) -> dict[str, Any]:
        shown = dict(status)
        if status["status"] == "queued":
            status["status"] = "pinned"  # read once while queued: pinned from now on
        return shown


def _pointer_of(ref: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema as a `$ref` into the spec (so its own `$ref`s resolve)."""
    return {"$ref": ref["$ref"] + "/schema"}


@contextmanager
def psa_server(token: str, port: int | None = None) -> Iterator[tuple[PsaServer, str]]:
    """A PSA server on loopback (on `port`, or a free one): the server and its endpoint URL."""
    server = PsaServer(token)
    with serve(server.app, port=port) as url:
        yield server, url
