"""What the asset upload answers."""

from __future__ import annotations

from pydantic import BaseModel


class AssetOut(BaseModel):
    cid: str
    size: int
    media_type: str
    uri: str
    url: str  # the same content through the https gateway
