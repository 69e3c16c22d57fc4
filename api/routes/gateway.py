"""The public content gateway (`/ipfs/{cid}[/{path}]`), with IPFS trustless-gateway semantics, so any
browser, game or verifier can fetch a twin's content over https and check it against its CID."""

from __future__ import annotations

from itertools import chain
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import StoreDep
from registry.gateway import service as gateway
from registry.gateway.service import CAR_TYPE, RAW_TYPE
from registry.ipfs.store import ContentStore
from registry.pages.locale import parse_accept_language

router = APIRouter(tags=["gateway"])

IMMUTABLE = "public, max-age=31536000, immutable"
EXPOSED = "Content-Range, Content-Length, ETag, X-Ipfs-Path, X-Ipfs-Roots"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file's bytes (media type read from them), one raw block, or a CAR",
        "content": {"application/octet-stream": _BINARY, RAW_TYPE: _BINARY, CAR_TYPE: _BINARY},
    },
    206: {"description": "the requested byte range of the file", "content": {"application/octet-stream": _BINARY}},
    304: {"description": "not modified (If-None-Match names this CID)"},
}


def _headers(resolved: gateway.Resolved, etag: str) -> dict[str, str]:
    path = "/".join(resolved.path)
    return {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "X-Ipfs-Path": f"/ipfs/{resolved.root}" + (f"/{path}" if path else ""),
        "X-Ipfs-Roots": ",".join(str(c) for c in (*resolved.via, resolved.cid)),
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": EXPOSED,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept",
    }


def _matches(if_none_match: str | None, etag: str) -> bool:
    return if_none_match is not None and any(
        tag.strip().removeprefix("W/") in (etag, "*") for tag in if_none_match.split(",")
    )


async def _not_modified(store: ContentStore, resolved: gateway.Resolved, if_none_match: str | None, etag: str) -> bool:
    """A 304 only for content the store holds: one read of the block the path ends at (an absent CID
    is a 404 whatever the client's cache says)."""
    if not _matches(if_none_match, etag):
        return False
    await run_in_threadpool(store.get_block, resolved.cid)
    return True


async def content(
    cid: str,
    request: Request,
    content_store: StoreDep,
    path: str = "",
    format: Annotated[str | None, Query(description="raw: one block; car: the DAG as CAR v1")] = None,
    dag_scope: Annotated[str, Query(alias="dag-scope")] = "all",
    accept: Annotated[str | None, Header()] = None,
    range_header: Annotated[str | None, Header(alias="range")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Public. The file at `path` under `cid` (ETag = its CID, immutable, byte ranges), one verified block
    with `?format=raw` (or `Accept: application/vnd.ipld.raw`), or the DAG as CAR v1 with `?format=car`.
    Every block is checked against its CID before it is served; only blocks this service holds are."""
    store = gateway.serving_store(content_store)
    head_only = request.method == "HEAD"
    wanted = gateway.format_of(format, parse_accept_language(accept or ""))  # the one q-value parser
    resolved = await run_in_threadpool(gateway.resolve, store, cid, path)
    if wanted == "raw":
        etag = f'"{resolved.cid}.raw"'
        headers = _headers(resolved, etag)
        if await _not_modified(store, resolved, if_none_match, etag):
            return Response(status_code=304, headers=headers)
        block = await run_in_threadpool(gateway.raw_block, store, resolved)
        headers["Content-Disposition"] = f'attachment; filename="{resolved.cid}.bin"'
        return Response(block, media_type=RAW_TYPE, headers=headers)
    if wanted == "car":
        etag = f'"{resolved.cid}.car.{dag_scope}"'
        headers = _headers(resolved, etag)
        if await _not_modified(store, resolved, if_none_match, etag):
            return Response(status_code=304, headers=headers)
        stream = gateway.car_stream(store, resolved, dag_scope)
        headers["Content-Disposition"] = f'attachment; filename="{resolved.cid}.car"'
        car_type = f"{CAR_TYPE}; version=1"
        if head_only:  # the root must exist; the CAR is never built (nor its length known)
            await run_in_threadpool(store.get_block, resolved.cid)
            return StreamingResponse(iter(()), media_type=car_type, headers=headers)
        # The header and the first block before the status line: a bad dag-scope or a missing or
        # corrupt root is a problem answer; a later bad block ends the stream (the CAR stays incomplete).
        head = await run_in_threadpool(lambda: [next(stream), next(stream)])
        return StreamingResponse(
            chain(head, gateway.guarded(stream, f"CAR of {resolved.cid}")), media_type=car_type, headers=headers
        )
    etag = f'"{resolved.cid}"'
    headers = _headers(resolved, etag)
    if await _not_modified(store, resolved, if_none_match, etag):
        return Response(status_code=304, headers=headers)
    found = await run_in_threadpool(gateway.file, store, resolved)
    headers["Accept-Ranges"] = "bytes"
    headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    span = gateway.byte_range(range_header, found.size)
    status = 200
    first_byte, last_byte = 0, found.size - 1
    if span is not None:
        status, (first_byte, last_byte) = 206, span
        headers["Content-Range"] = f"bytes {first_byte}-{last_byte}/{found.size}"
    length = last_byte - first_byte + 1
    headers["Content-Length"] = str(length)
    if head_only:  # the size from the root block: no more of the file is read
        return Response(status_code=status, media_type=found.media_type, headers=headers)
    parts = gateway.body(store, found, first_byte, last_byte)
    if length <= gateway.BUFFERED_BYTES:  # read whole first: a failure is still a problem answer
        data = await run_in_threadpool(lambda: b"".join(parts))
        return Response(data, status_code=status, media_type=found.media_type, headers=headers)
    stream = gateway.guarded(parts, f"/ipfs/{resolved.cid}")
    return StreamingResponse(stream, status_code=status, media_type=found.media_type, headers=headers)


for _path, _shown in (("/ipfs/{cid}", True), ("/ipfs/{cid}/{path:path}", False)):
    router.add_api_route(
        _path, content, methods=["GET"], response_class=Response, responses=_CONTENT, include_in_schema=_shown
    )
    router.add_api_route(_path, content, methods=["HEAD"], response_class=Response, include_in_schema=False)


@router.options("/ipfs/{cid}", include_in_schema=False)
@router.options("/ipfs/{cid}/{path:path}", include_in_schema=False)
def preflight() -> Response:
    """CORS preflight: any origin may read content (it is public and verified by its CID)."""
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
            "Access-Control-Allow-Headers": "Accept, Range, If-None-Match",
            "Access-Control-Max-Age": "86400",
            "Allow": "GET, HEAD, OPTIONS",
        },
    )
