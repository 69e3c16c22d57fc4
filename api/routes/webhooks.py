"""Partner webhooks (signed, at least once, with a delivery log) and the live event stream (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.deps import Credentials, OperatorDep, RuntimeDep, SessionDep
from registry.brands.service import authenticate
from registry.db.engine import session_scope
from registry.errors import Forbidden, InvalidInput, Unauthenticated
from registry.indexer.models import ChainEvent
from registry.webhooks import service as hooks
from registry.webhooks.events import TYPES, matches, public_event
from registry.webhooks.models import Subscription

router = APIRouter(tags=["webhooks"])


def _owner(s: Session, credentials: Credentials) -> hooks.Owner:
    if credentials is None:
        raise Unauthenticated("brand or partner API key required")
    key = credentials.credentials
    if key.startswith("tmp_"):
        return hooks.Owner(partner=hooks.authenticate_partner(s, key))
    who = authenticate(s, key)
    if who.provider is not None:
        raise Forbidden("a service provider's key cannot manage webhooks")
    return hooks.Owner(brand=who.brand)


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


@router.post("/v1/partners", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def create_partner(body: PartnerIn, s: SessionDep) -> dict[str, Any]:
    """Operator: a resale partner or game platform; its API key (`tmp_...`) is shown once."""
    partner, key = hooks.create_partner(s, body.name)
    return {"id": partner.id, "name": partner.name, "api_key": key}


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(min_length=1, description=f"among {', '.join(TYPES)}")
    collection: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    token_id: int | None = Field(default=None, gt=0)


@router.post("/v1/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookIn, s: SessionDep, credentials: Credentials) -> dict[str, Any]:
    """Subscribes a URL to events; the signing secret is shown once. Brands hear about their own collections."""
    owner = _owner(s, credentials)
    sub, secret = hooks.create_subscription(
        s, owner, url=body.url, types=body.event_types, collection=body.collection, token_id=body.token_id
    )
    return hooks.subscription_view(sub) | {"secret": secret}


@router.get("/v1/webhooks")
def list_webhooks(s: SessionDep, credentials: Credentials) -> dict[str, Any]:
    owner = _owner(s, credentials)
    subs = [sub for sub in s.exec(select(Subscription)) if owner.owns(sub) and sub.active]
    return {"webhooks": [hooks.subscription_view(sub) for sub in subs]}


@router.delete("/v1/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, s: SessionDep, credentials: Credentials) -> None:
    sub = hooks.owned(s, _owner(s, credentials), webhook_id)
    sub.active = False


@router.get("/v1/webhooks/{webhook_id}/deliveries")
def delivery_log(webhook_id: str, s: SessionDep, credentials: Credentials) -> dict[str, Any]:
    """Every delivery of this webhook with each attempt (status, error, duration)."""
    sub = hooks.owned(s, _owner(s, credentials), webhook_id)
    return {"webhook": webhook_id, "deliveries": hooks.deliveries(s, sub)}


@router.post("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED)
def redeliver(webhook_id: str, delivery_id: int, s: SessionDep, credentials: Credentials) -> dict[str, Any]:
    sub = hooks.owned(s, _owner(s, credentials), webhook_id)
    delivery = hooks.redeliver(s, sub, delivery_id)
    return {"id": delivery.id, "event_id": delivery.event_id, "state": delivery.state}


# ---------------------------------------------------------------- Server-Sent Events


def _batch(
    rt: Any, after: int, types: set[str], collection: str | None, token: int | None
) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    """The matching events among the next 500 indexed after `after`, and the last id looked at."""
    with session_scope(rt.engine) as s:
        rows = s.exec(
            select(ChainEvent).where(col(ChainEvent.id) > after).order_by(col(ChainEvent.id)).limit(500)
        ).all()
        txs = [r.tx_hash for r in rows if r.name == "Transfer"]
        claim_txs = (
            set(
                s.exec(
                    select(ChainEvent.tx_hash).where(col(ChainEvent.tx_hash).in_(txs), ChainEvent.name == "Claimed")
                ).all()
            )
            if txs
            else set()
        )
    out = []
    for r in rows:
        raw = {
            "address": r.address,
            "blockHash": r.block_hash,
            "transactionHash": r.tx_hash,
            "logIndex": hex(r.log_index),
            "blockNumber": hex(r.block_number),
        }
        event = public_event(raw, r.name, json.loads(r.args), claim_txs)
        if event is None or not matches(event, types, collection, token):
            continue
        assert r.id is not None
        out.append((r.id, event))
    return (rows[-1].id or after) if rows else after, out


@router.get("/v1/events/stream")
async def stream(
    request: Request,
    rt: RuntimeDep,
    types: Annotated[str | None, Query(description="comma-separated event types")] = None,
    collection: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    token_id: Annotated[int | None, Query(gt=0)] = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this stream id")] = None,
) -> StreamingResponse:
    """Indexed events as Server-Sent Events, live (optional filters as for webhooks; resumable)."""
    wanted = {t.strip() for t in (types or "").split(",") if t.strip()}
    unknown = wanted - set(TYPES)
    if unknown:
        raise InvalidInput(f"unknown event types {sorted(unknown)}")
    cursor = last_event_id if last_event_id is not None else (after or 0)

    async def events() -> AsyncIterator[bytes]:
        position = cursor
        yield b": twinmark event stream\n\n"
        while not await request.is_disconnected():
            position, batch = await run_in_threadpool(_batch, rt, position, wanted, collection, token_id)
            for stream_id, event in batch:
                yield f"id: {stream_id}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
            if not batch:
                await asyncio.sleep(0.5)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
