"""Imports every table module so SQLModel.metadata (and Alembic) know them all."""

from registry.assets.models import Asset
from registry.brands.models import ApiKey, Brand, Collection
from registry.jobs.models import Chunk, Identifier, Job, Lease
from registry.twins.models import Twin

__all__ = ["ApiKey", "Asset", "Brand", "Chunk", "Collection", "Identifier", "Job", "Lease", "Twin"]
