"""A twin's timeline and service records."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TimelineEntry(BaseModel):
    """One step; the fields beside these depend on `event` (e.g. `from`/`to` for transfers)."""

    model_config = ConfigDict(extra="allow")

    event: str = Field(
        description="minted, claimed, transferred, status_changed, service_recorded, content_updated, linked, burned"
    )
    block_number: int
    block_time: str
    tx_hash: str

    def get(self, name: str) -> Any:
        """A field beside the four every step has (which ones depends on `event`), or None."""
        return (self.model_extra or {}).get(name)


class ProvenanceOut(BaseModel):
    contract: str
    token_id: int
    events: list[TimelineEntry]
    source: str = Field(description="index: the index and the blocks beyond it; chain: the chain alone")
    as_of_block: int = Field(description="the chain head the timeline is current to")
    indexed_to_block: int | None = Field(description="the last block the index had (None: chain alone)")
    indexed_block_hash: str | None = Field(description="that block's hash, to tell a reorganisation")


class ServiceRecordOut(BaseModel):
    contract: str
    token_id: int
    record_cid: str
    provider: str
    tx_hash: str
