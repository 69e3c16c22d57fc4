from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow


class Asset(SQLModel, table=True):
    """A file a brand uploaded; twins may only reference their own brand's assets."""

    __tablename__ = "assets"

    brand_id: str = Field(foreign_key="brands.id", primary_key=True)
    cid: str = Field(primary_key=True)
    media_type: str
    size: int
    filename: str | None = None
    # A GLB's counts from the Khronos glTF Validator (JSON; see registry.assets.gltf). None for images
    # and for models uploaded before validation existed (uploading the same bytes again fills it in).
    gltf_stats: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
