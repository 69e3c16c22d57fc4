"""Alert request and answer bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.alerts.policy import Policy


class Summary(BaseModel):
    en: str
    zh: str


class AlertOut(BaseModel):
    id: int
    rule: str
    state: Literal["open", "resolved"]
    brand: str
    contract: str | None = Field(description="the twin's collection; None for lookups of serials no twin has")
    token_id: int | None
    subject: str
    facts: dict[str, Any] = Field(description="the figures the rule saw (countries, km, crowds, counters...)")
    summary: Summary = Field(description="what was seen, in plain words (the sentence a caution shows)")
    chain: dict[str, Any] | None = Field(description="the twin's state at a block when the alert was raised")
    raised_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    note: str | None


class AlertList(BaseModel):
    alerts: list[AlertOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; None: no more")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str | None = Field(
        default=None, max_length=2000, description="why (kept with the alert, sent in the webhook)"
    )


class AlertExport(BaseModel):
    """A self-contained document: `python -m registry.alerts.recheck` re-checks it offline."""

    format: str
    alert: AlertOut
    scans: list[dict[str, Any]]
    how_to_check: str


class PolicyOut(BaseModel):
    scope: str = Field(description='"" for the brand, else the collection')
    set: dict[str, Any] = Field(description="the fields set at this scope")
    effective: Policy = Field(description="the thresholds in force there (defaults, brand, collection)")


class CautionOut(BaseModel):
    rule: str
    en: str
    zh: str
    since: datetime
