"""What the scan routes answer."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AggregateRow(BaseModel):
    key: str = Field(
        description="the day (YYYY-MM-DD), country (ISO 3166-1 alpha-2), channel, collection address or"
        " twin (`{collection}/{token_id}`); `unknown` where the scan had none"
    )
    scans: int
    sessions: int = Field(
        description="distinct sessions per day and group (twin, country, channel for `twin`; else collection,"
        " country, channel), summed over groups and days"
    )
    taps: int
    claims: int | None = Field(
        default=None, description="claims of the brand's twins (indexed chain events); null by country and channel"
    )
    resales: int | None = Field(
        default=None,
        description="transfers from one holder to another (claims, mints and burns excluded); null by country"
        " and channel",
    )
    alerts: int | None = Field(
        default=None, description="alerts raised (open or since resolved); null by country and channel"
    )


class AggregatesOut(BaseModel):
    brand: str
    by: Literal["day", "country", "channel", "collection", "twin"]
    from_: date = Field(alias="from")
    to: date
    rows: list[AggregateRow]
    next: str | None = Field(
        default=None, description="by twin: more twins follow; pass this as `after` for the next page"
    )

    model_config = ConfigDict(populate_by_name=True)


class MyScansOut(BaseModel):
    session: str | None = Field(
        description="this browser's session reference (quote it to a brand or the operator to have its"
        " scans deleted); null: this browser has no session cookie"
    )
    scans: int


class DeletedOut(BaseModel):
    session: str | None
    deleted: int


class ScanStatusOut(BaseModel):
    enabled: bool
    queued: int
    written: int
    dropped_full: int
    dropped_failed: int
    batches: int
    waiting: int
