"""Integrations in the console: the brand's webhooks with their delivery log and redelivery (operator),
its API keys (created with the key shown once, revoked; admin only), and who else reads or acts on its
twins (its service providers, the platform's partners). Analysts read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.console.deps import AdminDep, AnalystDep, OperatorDep
from api.console.paging import Paged, paged
from api.console.render import render
from api.deps import ServerKeyDep, SessionDep, SettingsDep
from registry.auth import service as auth
from registry.auth.models import Partner
from registry.brands.service import get_brand
from registry.dashboard.lists import page_of_deliveries
from registry.errors import TwinmarkError
from registry.events.public import TYPES
from registry.providers.models import Provider
from registry.staff import reveal
from registry.staff.audit import record
from registry.staff.models import StaffRole
from registry.staff.sessions import StaffPrincipal
from registry.webhooks import service as hooks
from registry.webhooks.models import Subscription
from registry.webhooks.outbox import BRAND_TYPES
from registry.webhooks.schemas import DeliveryOut

router = APIRouter(include_in_schema=False)
DELIVERIES_LISTED = 20


def _owner(s: Session, p: StaffPrincipal) -> hooks.Owner:
    return hooks.Owner(brand=get_brand(s, p.brand_id))


def _webhooks(request: Request, s: Session, p: StaffPrincipal) -> list[dict[str, Any]]:
    """The brand's webhooks, newest first, each with a page of its delivery log: the first, or the one
    the query's cursor names for the query's `webhook` (a webhook of another brand is not found)."""
    owner = _owner(s, p)
    paging = request.query_params.get("webhook")
    if paging:
        hooks.owned(s, owner, paging[:64])
    out = []
    for sub in sorted(hooks.active_subscriptions(s, owner), key=lambda sub: sub.created_at, reverse=True):

        def fetch(cursor: str | None, sub: Subscription = sub) -> tuple[list[DeliveryOut], str | None]:
            return page_of_deliveries(s, sub, cursor, limit=DELIVERIES_LISTED)

        log = paged(request, "cursor", fetch) if sub.id == paging else Paged(*fetch(None))
        out.append({"sub": hooks.subscription_view(sub), "deliveries": log})
    return out


def _page(request: Request, p: StaffPrincipal, s: Session, *, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    webhooks = _webhooks(request, s, p)
    refused = any(w["deliveries"].refused for w in webhooks)
    providers = s.exec(select(Provider).where(Provider.brand_id == p.brand_id).order_by(col(Provider.created_at)))
    partners = s.exec(select(Partner).order_by(col(Partner.created_at)))
    return render(
        request,
        "integrations.html",
        principal=p,
        section="integrations",
        status_code=422 if refused and status_code < 400 else status_code,
        webhooks=webhooks,
        event_types=(*TYPES, *BRAND_TYPES),
        keys=auth.brand_keys(s, p.brand_id),
        providers=list(providers),
        partners=list(partners),
        may_act=p.may(StaffRole.operator),
        may_admin=p.may(StaffRole.admin),
        done=request.query_params.get("done"),
        **ctx,
    )


@router.get("/console/integrations", response_class=HTMLResponse)
def integrations_page(request: Request, p: AnalystDep, s: SessionDep, server_key: ServerKeyDep) -> HTMLResponse:
    """With `shown`: where creating a key or a webhook leads, showing its secret this once."""
    shown = request.query_params.get("shown")
    if not shown:
        return _page(request, p, s)
    held = reveal.take(s, server_key, p.staff_id, shown)
    if held is None:  # a reload, the back button, another tab: the secret is not there any more
        return _page(request, p, s, secret_gone=True)
    if held.kind == "key":
        return _page(request, p, s, new_key=held.secret, new_key_id=held.target)
    return _page(request, p, s, webhook_secret=held.secret, new_webhook=held.target)


def _shown(held: str, anchor: str) -> RedirectResponse:
    # Post/Redirect/Get: the secret waits server-side for one read by the page this leads to, so a
    # reload or the back button asks for that page again (the secret then gone), never posts the
    # form again to make a second key or webhook (registry.staff.reveal).
    return RedirectResponse(f"/console/integrations?shown={held}#{anchor}", status_code=303)


@router.post("/console/integrations/webhooks", response_model=None)
async def create_webhook(
    request: Request, p: OperatorDep, s: SessionDep, settings: SettingsDep, server_key: ServerKeyDep
) -> Response:
    form = await request.form()
    url = form.get("url")
    types = [t for t in form.getlist("event_types") if isinstance(t, str)]

    def handle() -> Response:
        try:
            sub, secret = hooks.create_subscription(
                s,
                _owner(s, p),
                url=url.strip() if isinstance(url, str) else "",
                types=types,
                collection=None,
                token_id=None,
                allow_private_targets=settings.webhook_allow_private_targets,
                server_key=server_key,
            )
        except TwinmarkError as exc:
            return _page(request, p, s, status_code=exc.status, webhook_error=exc.detail)
        record(s, p, "webhook.create", target=sub.id, detail=sub.url)
        return _shown(reveal.hold(s, server_key, p.staff_id, "webhook", sub.id, secret), "webhooks")

    return await run_in_threadpool(handle)


@router.post("/console/integrations/webhooks/{webhook_id}/delete", response_model=None)
def delete_webhook(webhook_id: str, p: OperatorDep, s: SessionDep) -> Response:
    hooks.deactivate(hooks.owned(s, _owner(s, p), webhook_id))
    record(s, p, "webhook.delete", target=webhook_id)
    return RedirectResponse("/console/integrations?done=webhook-deleted#webhooks", status_code=303)


@router.post("/console/integrations/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=None)
def redeliver(webhook_id: str, delivery_id: int, p: OperatorDep, s: SessionDep) -> Response:
    """The delivery goes out again (same event id, so receivers can drop the duplicate)."""
    delivery = hooks.redeliver(s, hooks.owned(s, _owner(s, p), webhook_id), delivery_id)
    record(s, p, "webhook.redeliver", target=f"{webhook_id}/{delivery.id}", detail=delivery.event_id)
    return RedirectResponse(f"/console/integrations?done=redelivered#webhook-{webhook_id}", status_code=303)


@router.post("/console/integrations/keys", response_model=None)
def create_key(p: AdminDep, s: SessionDep, server_key: ServerKeyDep) -> Response:
    key = auth.issue_key(s, p.brand_id)
    prefix = key.split("_")[1]
    record(s, p, "key.create", target=prefix)
    return _shown(reveal.hold(s, server_key, p.staff_id, "key", prefix, key), "keys")


@router.post("/console/integrations/keys/{key_id}/revoke", response_model=None)
def revoke_key(key_id: str, p: AdminDep, s: SessionDep) -> Response:
    auth.revoke_key(s, p.brand_id, key_id)
    record(s, p, "key.revoke", target=key_id)
    return RedirectResponse("/console/integrations?done=key-revoked#keys", status_code=303)
