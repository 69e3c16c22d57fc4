"""What the service keeps about claims: sealed claim secrets until handed over, and wrong-secret attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class ClaimVault(SQLModel, table=True):
    """A job's claim secrets, sealed under the API key that submitted it, until fetched once."""

    __tablename__ = "claim_vaults"

    job_id: str = Field(foreign_key="jobs.id", primary_key=True)
    api_key_id: str
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
