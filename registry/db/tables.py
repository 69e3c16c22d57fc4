"""Imports every table module so SQLModel.metadata (and Alembic) know them all."""

from registry.assets.models import Asset
from registry.brands.models import ApiKey, Brand, Collection, Provider
from registry.db.lease import Lease
from registry.indexer.models import ChainEvent, IndexCursor
from registry.jobs.models import Chunk, ClaimVault, Identifier, Job
from registry.twins.models import ClaimAttempt, Twin
from registry.webhooks.models import Delivery, DeliveryAttempt, Partner, Subscription

__all__ = [
    "ApiKey",
    "Asset",
    "Brand",
    "ChainEvent",
    "Chunk",
    "ClaimAttempt",
    "ClaimVault",
    "Collection",
    "Delivery",
    "DeliveryAttempt",
    "Identifier",
    "IndexCursor",
    "Job",
    "Lease",
    "Partner",
    "Provider",
    "Subscription",
    "Twin",
]
