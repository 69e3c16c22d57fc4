"""Imports every table module so SQLModel.metadata (and Alembic) know them all."""

from registry.assets.models import Asset
from registry.brands.models import ApiKey, Brand, Collection, Provider
from registry.jobs.models import Chunk, ClaimVault, Identifier, Job, Lease
from registry.twins.models import ClaimAttempt, Twin

__all__ = [
    "ApiKey",
    "Asset",
    "Brand",
    "Chunk",
    "ClaimAttempt",
    "ClaimVault",
    "Collection",
    "Identifier",
    "Job",
    "Lease",
    "Provider",
    "Twin",
]
