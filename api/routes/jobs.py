"""Mint jobs: state, counts, on-chain batches, twins made so far; claim secrets, once."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import BrandCallerDep, BrandDep, SessionDep, SettingsDep
from api.routes.common import Offset
from registry.claims import service as claims
from registry.claims.schemas import ClaimSecret, ClaimSecretsOut
from registry.jobs import service as jobs
from registry.jobs.schemas import JobOut
from registry.pinning.service import durability_for, job_contents
from registry.scans.export import csv_cell

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
def get_job(
    job_id: str,
    brand: BrandDep,
    settings: SettingsDep,
    s: SessionDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Offset = 0,
) -> JobOut:
    """State, counts, on-chain batches and the twins made so far (paged by limit/offset)."""
    job = jobs.brand_job(s, brand, job_id)
    view = jobs.job_view(s, job, gateway_base=settings.gateway_base, limit=limit, offset=offset)
    view.durability = durability_for(s, job_contents(s, job.id), settings)
    return view


@router.get(
    "/{job_id}/claim-secrets",
    response_model=ClaimSecretsOut,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def claim_secrets(
    job_id: str, who: BrandCallerDep, settings: SettingsDep, s: SessionDep, format: Literal["json", "csv"] = "json"
) -> Any:
    """The job's claim secrets, handed over exactly once (JSON, or CSV to print as QR codes)."""
    job = jobs.brand_job(s, who.brand, job_id)
    secrets = claims.fetch_secrets(s, job.id, job.state, caller=who.caller, base_url=settings.base_url)
    if format == "json":
        return ClaimSecretsOut(job=job_id, secrets=secrets, note="shown once; the service keeps no copy")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ClaimSecret.model_fields))
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in secret.model_dump().items()} for secret in secrets)
    return PlainTextResponse(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="claim-secrets-{job_id}.csv"'},
    )
