"""What provider routes take and answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)


class ProviderCreated(BaseModel):
    id: str
    name: str
    address: str
    api_key: str = Field(description="shown only in this answer")
