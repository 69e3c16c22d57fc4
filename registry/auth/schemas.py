"""Partner accounts: what the operator sends and gets back."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class PartnerCreated(BaseModel):
    id: str
    name: str
    api_key: str = Field(description="`tmp_...`, shown only in this answer")
