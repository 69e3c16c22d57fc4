"""Alert tables: the alerts themselves, a copy of each triggering scan (kept when the raw scan log is
pruned, so the evidence outlives retention), the brands' thresholds and the countries seen so far."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow

STATES = ("open", "resolved")


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        # A brand's alerts, newest first (listing with a cursor).
        Index("ix_alerts_brand_id", "brand_id", "id"),
        # The caution on a twin's page: its open alerts.
        Index("ix_alerts_twin_state", "collection", "token_id", "state"),
        # Each process's caution board reads only the alerts changed since its last read.
        Index("ix_alerts_updated_at", "updated_at"),
        # Retention: resolved alerts past `alert_retention_days` (open ones have none).
        Index("ix_alerts_resolved_at", "resolved_at"),
        # Dedupe, enforced by the database even between two processes: one open alert per subject and rule.
        Index(
            "uq_alerts_open_subject_rule",
            "brand_id",
            "subject",
            "rule",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    brand_id: str = Field(foreign_key="brands.id")
    rule: str
    # What the alert is about: "<collection>:<token id>" for a twin, "lookup:<collection or brand>" for
    # lookups of serials no twin has.
    subject: str
    collection: str | None = None
    token_id: int | None = Field(default=None, sa_type=BigInteger)
    state: str = "open"  # one of STATES
    facts: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the figures the rule saw
    chain: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON: the twin at a block
    raised_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)  # every change sets it (wall clock): the board's cursor
    resolved_at: datetime | None = None
    note: str | None = None  # the brand's note when resolving


class AlertScan(SQLModel, table=True):
    """A scan that triggered an alert, copied whole (evidence included): raw scans are pruned after
    their retention, an alert's evidence must not be."""

    __tablename__ = "alert_scans"

    alert_id: int = Field(foreign_key="alerts.id", primary_key=True, sa_type=BigInteger)
    scan_id: int = Field(primary_key=True, sa_type=BigInteger)
    at: datetime
    scan: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the scan row as recorded


class AlertPolicy(SQLModel, table=True):
    """A brand's thresholds (`scope` ""), or one collection's (`scope` its address) over the brand's."""

    __tablename__ = "alert_policies"

    brand_id: str = Field(foreign_key="brands.id", primary_key=True)
    scope: str = Field(primary_key=True)
    values: str = Field(sa_column=Column(Text, nullable=False))  # JSON: only the fields set
    updated_at: datetime = Field(default_factory=utcnow)


class AlertCountry(SQLModel, table=True):
    """Countries a collection's twins were scanned in, and how often: the history "exceptional
    country" compares against, kept as the scans arrive (no scan of the whole log)."""

    __tablename__ = "alert_countries"

    collection: str = Field(primary_key=True)
    country: str = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", index=True)
    scans: int = Field(default=0, sa_type=BigInteger)
    first_at: datetime = Field(default_factory=utcnow)
