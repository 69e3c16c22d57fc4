"""The live event stream (Server-Sent Events), resumable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, SettingsDep
from api.routes.common import MAX_ID, client_address
from registry.errors import InvalidInput, TooManyRequests
from registry.events.public import TYPES
from registry.events.stream import events_after

router = APIRouter(tags=["events"])


class OpenStreams:
    """Event-stream connections open in this process, per client: each holds a connection and a
    database poll every half second, so both the total and each client's share are capped (429)."""

    def __init__(self) -> None:
        self.by_client: dict[str, int] = {}

    def admit(self, client: str, *, total: int, per_client: int) -> None:
        if sum(self.by_client.values()) >= total:
            raise TooManyRequests(f"the service holds {total} event streams already; retry later", retry_after=30)
        if self.by_client.get(client, 0) >= per_client:
            raise TooManyRequests(f"at most {per_client} event streams per client", retry_after=30)
        self.by_client[client] = self.by_client.get(client, 0) + 1  # on the event loop: no lock needed

    def leave(self, client: str) -> None:
        left = self.by_client.get(client, 1) - 1
        if left > 0:
            self.by_client[client] = left
        else:
            self.by_client.pop(client, None)


def _open_streams(request: Request) -> OpenStreams:
    """This app's count (one per app, not per module: a stream of another app in the same process,
    finalised late, must not change this one's)."""
    opened: OpenStreams | None = getattr(request.app.state, "open_streams", None)
    if opened is None:
        opened = request.app.state.open_streams = OpenStreams()
    return opened


_SSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: one event per indexed chain event (`id`, `event` = type, `data` = JSON)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("/v1/events/stream", response_class=StreamingResponse, responses=_SSE)
async def stream(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    types: Annotated[str | None, Query(description="comma-separated event types")] = None,
    collection: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    token_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    owner: Annotated[
        str | None,
        Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="events moving a twin from or to this address"),
    ] = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="resume after this stream id")] = None,
) -> StreamingResponse:
    """Indexed events as Server-Sent Events, live (optional filters as for webhooks; resumable). With
    `owner`: ownership notices, the events moving a twin from or to that address."""
    wanted = {t.strip() for t in (types or "").split(",") if t.strip()}
    unknown = wanted - set(TYPES)
    if unknown:
        raise InvalidInput(f"unknown event types {sorted(unknown)}")
    cursor = last_event_id if last_event_id is not None else (after or 0)
    client = client_address(request)
    opened = _open_streams(request)
    opened.admit(client, total=settings.stream_max_connections, per_client=settings.stream_max_per_client)

    async def events() -> AsyncIterator[bytes]:
        position = cursor
        try:
            yield b": twinmark event stream\n\n"
            while not await request.is_disconnected():
                reached, batch = await run_in_threadpool(
                    partial(events_after, owner=owner), engine, position, wanted, collection, token_id
                )
                for stream_id, event in batch:
                    yield f"id: {stream_id}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
                if reached == position:
                    await asyncio.sleep(0.5)  # caught up: wait for the indexer (history is read without pause)
                position = reached
        finally:
            opened.leave(client)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
