"""Partner and brand webhooks: signed, at least once, with a delivery log."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import Session

from api.deps import CallerDep, ServerKeyDep, SessionDep, SettingsDep
from api.routes.common import checksum
from registry.brands.service import get_brand, own_collection
from registry.errors import Forbidden
from registry.webhooks import service as hooks
from registry.webhooks.schemas import DeliveryLog, RedeliveryOut, WebhookCreated, WebhookIn, WebhookList

router = APIRouter(tags=["webhooks"])


def _owner(s: Session, caller: CallerDep) -> hooks.Owner:
    if caller.partner is not None:
        return hooks.Owner(partner=caller.partner)
    if caller.provider_id is not None or caller.brand_id is None:
        raise Forbidden("a service provider's key cannot manage webhooks")
    return hooks.Owner(brand=get_brand(s, caller.brand_id))


@router.post("/v1/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
def create_webhook(
    body: WebhookIn, s: SessionDep, caller: CallerDep, settings: SettingsDep, server_key: ServerKeyDep
) -> WebhookCreated:
    """Subscribes a URL to events; the signing secret is shown once. Brands hear about their own collections.
    With `owner`, only events moving a twin from or to that address (ownership notices for a game).
    The URL must resolve to public addresses only, unless the operator allows private targets."""
    owner = _owner(s, caller)
    if owner.brand is not None and body.collection is not None:
        own_collection(s, owner.brand, checksum(body.collection))  # another brand's collection: 404
    sub, secret = hooks.create_subscription(
        s,
        owner,
        url=body.url,
        types=body.event_types,
        collection=body.collection,
        token_id=body.token_id,
        owner_address=body.owner,
        allow_private_targets=settings.webhook_allow_private_targets,
        server_key=server_key,
    )
    return hooks.created_view(sub, secret)


@router.get("/v1/webhooks", response_model=WebhookList)
def list_webhooks(s: SessionDep, caller: CallerDep) -> WebhookList:
    subs = hooks.active_subscriptions(s, _owner(s, caller))
    return WebhookList(webhooks=[hooks.subscription_view(sub) for sub in subs])


@router.delete("/v1/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, s: SessionDep, caller: CallerDep) -> None:
    hooks.deactivate(hooks.owned(s, _owner(s, caller), webhook_id))


@router.get("/v1/webhooks/{webhook_id}/deliveries", response_model=DeliveryLog)
def delivery_log(webhook_id: str, s: SessionDep, caller: CallerDep) -> DeliveryLog:
    """Every delivery of this webhook with each attempt (status, error, duration)."""
    sub = hooks.owned(s, _owner(s, caller), webhook_id)
    return DeliveryLog(webhook=webhook_id, deliveries=hooks.deliveries(s, sub))


@router.post("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED)
def redeliver(webhook_id: str, delivery_id: int, s: SessionDep, caller: CallerDep) -> RedeliveryOut:
    sub = hooks.owned(s, _owner(s, caller), webhook_id)
    delivery = hooks.redeliver(s, sub, delivery_id)
    assert delivery.id is not None
    return RedeliveryOut(id=delivery.id, event_id=delivery.event_id, state=delivery.state)
