from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import BrandDep, SessionDep
from registry.errors import NotFound
from registry.jobs.models import Job
from registry.jobs.service import job_view

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}")
def get_job(
    job_id: str,
    brand: BrandDep,
    s: SessionDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """State, counts, on-chain batches and the twins made so far (paged by limit/offset)."""
    job = s.get(Job, job_id)
    if job is None or job.brand_id != brand.id:  # another brand's job does not exist for you
        raise NotFound(f"no job {job_id}")
    return job_view(s, job, limit=limit, offset=offset)
