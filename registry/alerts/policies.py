"""Brands' alert policies as stored: the fields a brand set for itself and for each collection, merged
over the defaults of `registry.alerts.policy`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from registry.alerts.models import AlertPolicy
from registry.alerts.policy import Policy, merged


def policy_layers(session: Session, brand_id: str, collection: str | None) -> list[dict[str, Any]]:
    """The fields set for the brand, then for the collection: free-form, each only what was set."""
    scopes = [""] + ([collection] if collection else [])
    rows = {p.scope: p for p in session.exec(select(AlertPolicy).where(AlertPolicy.brand_id == brand_id))}
    return [json.loads(rows[s].values) for s in scopes if s in rows]


def policy_set(session: Session, brand_id: str, scope: str) -> dict[str, Any]:
    """The fields set at this scope only ("" the brand, else a collection). A dict on purpose: it holds
    only the fields that were set (a partial policy), which a model with defaults would blur."""
    row = session.get(AlertPolicy, (brand_id, scope))
    return {} if row is None else dict(json.loads(row.values))


def policy_for(session: Session, brand_id: str, collection: str | None) -> Policy:
    return merged(*policy_layers(session, brand_id, collection))


def set_policy(session: Session, brand_id: str, scope: str, values: dict[str, Any]) -> Policy:
    """Stores the fields set for the brand (`scope` "") or one of its collections; returns the merged
    policy that scope now has."""
    row = session.get(AlertPolicy, (brand_id, scope))
    text = json.dumps(values, default=str, sort_keys=True)
    if row is None:
        session.add(AlertPolicy(brand_id=brand_id, scope=scope, values=text))
    else:
        row.values, row.updated_at = text, datetime.now(UTC)
    session.flush()
    return policy_for(session, brand_id, scope or None)
