"""Alerts of the brand's twins (brand key): list, read, resolve, export for an offline re-check, and the
thresholds per brand and per collection."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import ValidationError

from api.deps import BrandDep, EngineDep, SessionDep
from api.routes.common import MAX_ID, TokenId, checksum
from registry.alerts import actions
from registry.alerts.caution import board_for, caution_for
from registry.alerts.models import STATES
from registry.alerts.policies import policy_for, policy_set, set_policy
from registry.alerts.policy import RULES, PolicyPatch
from registry.alerts.schemas import AlertExport, AlertList, AlertOut, CautionOut, PolicyOut, ResolveIn
from registry.brands.service import own_collection
from registry.errors import InvalidInput

router = APIRouter(tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/v1/alerts", response_model=AlertList)
def list_alerts(
    brand: BrandDep,
    s: SessionDep,
    state: Annotated[str | None, Query(description=f"one of {', '.join(STATES)}")] = None,
    rule: Annotated[str | None, Query(description=f"one of {', '.join(RULES)}")] = None,
    contract: Annotated[str | None, Query()] = None,
    token_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertList:
    """The brand's alerts, newest first."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}")
    if rule is not None and rule not in RULES:
        raise InvalidInput(f"rule must be one of {', '.join(RULES)}")
    collection = checksum(contract) if contract else None
    rows, nxt = actions.list_alerts(
        s, brand.id, state=state, rule=rule, collection=collection, token_id=token_id, cursor=cursor, limit=limit
    )
    return AlertList(alerts=[actions.alert_view(a) for a in rows], next_cursor=nxt)


@router.get("/v1/alerts/policy", response_model=PolicyOut)
def get_policy(brand: BrandDep, s: SessionDep, contract: Annotated[str | None, Query()] = None) -> PolicyOut:
    """The thresholds in force for the brand, or for one of its collections."""
    scope = own_collection(s, brand, checksum(contract)).address if contract else ""
    return PolicyOut(scope=scope, set=policy_set(s, brand.id, scope), effective=policy_for(s, brand.id, scope or None))


@router.put("/v1/alerts/policy", response_model=PolicyOut)
def put_policy(
    brand: BrandDep,
    s: SessionDep,
    body: Annotated[
        dict[str, Any], Body(description="the thresholds to set (see PolicyOut.effective); others inherit")
    ],
    contract: Annotated[str | None, Query(description="a collection of the brand; unset: the brand")] = None,
) -> PolicyOut:
    """Sets the brand's thresholds, or one collection's (intended markets, sell-by and release dates...).
    The fields given replace what this scope had; the others inherit from the brand and the defaults."""
    scope = own_collection(s, brand, checksum(contract)).address if contract else ""
    try:
        patch = PolicyPatch.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(f"invalid thresholds: {exc.errors(include_url=False, include_input=False)}") from None
    values = patch.model_dump(mode="json", include=set(body))
    effective = set_policy(s, brand.id, scope, values)
    return PolicyOut(scope=scope, set=values, effective=effective)


@router.get("/v1/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: AlertId, brand: BrandDep, s: SessionDep) -> AlertOut:
    return actions.alert_view(actions.own_alert(s, brand.id, alert_id))


@router.post("/v1/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve_alert(alert_id: AlertId, body: ResolveIn, brand: BrandDep, s: SessionDep, engine: EngineDep) -> AlertOut:
    """Closes the alert: the twin's caution clears, `alert.resolved` is sent; only later scans can raise
    the same rule on the twin again."""
    alert = actions.resolve(s, actions.own_alert(s, brand.id, alert_id), body.note)
    view = actions.alert_view(alert)
    s.commit()  # then this process's copy of the cautions is read again: its pages drop this one at once
    board_for(engine).invalidate()
    return view


@router.get("/v1/alerts/{alert_id}/export", response_model=AlertExport)
def export_alert(alert_id: AlertId, brand: BrandDep, s: SessionDep) -> AlertExport:
    """The alert with its scans and evidence as one document, for a partner or a court to re-check with
    `python -m registry.alerts.recheck` (no Twinmark server needed)."""
    return actions.export(s, actions.own_alert(s, brand.id, alert_id))


@router.get("/v1/twins/{contract}/{token_id}/caution", response_model=CautionOut | None)
def twin_caution(contract: str, token_id: TokenId, s: SessionDep) -> CautionOut | None:
    """Public: what unusual scans of this twin were seen, in plain words (English and Chinese), while its
    brand has not cleared it; null otherwise. It never says the item is fake."""
    caution = caution_for(s, checksum(contract), token_id)
    return None if caution is None else CautionOut(rule=caution.rule, en=caution.en, zh=caution.zh, since=caution.since)
