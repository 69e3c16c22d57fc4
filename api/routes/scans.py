"""The scan log's routes: the brand's numbers and export (brand key), a buyer's own scans (their
browser's cookie), deletion of a session's scans (buyer, brand, operator), the recorder's counters."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api.deps import BrandDep, EngineDep, OperatorDep, ScanRecorderDep, ServerKeyDep, SessionDep, SettingsDep
from api.scans import session_key_for
from registry.alerts.actions import forget_session, raised_between
from registry.db.engine import session_scope
from registry.errors import InvalidInput
from registry.pages import tickets
from registry.scans import export, privacy, service
from registry.scans.recorder import ScanRecorder
from registry.scans.schemas import AggregateRow, AggregatesOut, DeletedOut, MyScansOut, ScanStatusOut

router = APIRouter(tags=["scans"])

MAX_DAYS = 400  # one request's range
MAX_TWINS = 1_000  # one page of the per-twin view
SessionRef = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a session reference (GET /v1/scans/mine)")]


def _range(first: date | None, last: date | None, default_days: int) -> tuple[date, date]:
    last = last or datetime.now(UTC).date()
    first = first or last - timedelta(days=default_days - 1)
    if first > last:
        raise InvalidInput("`from` is after `to`")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once")
    return first, last


@router.get("/v1/brands/me/scans/aggregates", response_model=AggregatesOut, response_model_by_alias=True)
def scan_aggregates(
    brand: BrandDep,
    s: SessionDep,
    by: Annotated[service.By, Query(description="what the scans are counted by")] = "day",
    from_: Annotated[date | None, Query(alias="from", description="first day (UTC), default 30 days ago")] = None,
    to: Annotated[date | None, Query(description="last day (UTC, included), default today")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TWINS, description="by twin: twins per page, most scanned first")] = 100,
    after: Annotated[str | None, Query(max_length=200, description="by twin: the `next` of the page before")] = None,
) -> AggregatesOut:
    """The brand's scans, distinct sessions and taps per day, country, channel, collection or twin,
    from daily rollups (today's kept live by the scan writer). By twin, a page of `limit` twins."""
    first, last = _range(from_, to, 30)
    cursor = service.After.decode(after) if after is not None else None
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    raised = [] if by in ("country", "channel") else raised_between(s, brand.id, start, end)
    numbers = service.aggregates(s, brand.id, first, last, by, raised, limit=limit, after=cursor)
    rows = [AggregateRow.model_validate(asdict(f)) for f in numbers.figures]
    body = {"brand": brand.id, "by": by, "from": first, "to": last, "rows": rows}
    return AggregatesOut.model_validate(body | {"next": numbers.after.encode() if numbers.after else None})


@router.get(
    "/v1/brands/me/scans.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "the brand's raw scans, oldest first",
        }
    },
)
def scans_csv(
    brand: BrandDep,
    engine: EngineDep,
    from_: Annotated[date | None, Query(alias="from", description="first day (UTC), default 30 days ago")] = None,
    to: Annotated[date | None, Query(description="last day (UTC, included), default today")] = None,
) -> StreamingResponse:
    """The brand's own raw scans (within retention) as CSV, streamed. Cells a spreadsheet would run
    as formulas are prefixed with an apostrophe."""
    first, last = _range(from_, to, 30)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    name = f"scans-{first}-{last}.csv"
    return StreamingResponse(
        export.export_csv(engine, brand.id, since, until),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _my_session(request: Request, settings: SettingsDep, server_key: ServerKeyDep) -> str | None:
    cookie = tickets.browser_id(request.cookies.get(tickets.cookie_name(settings.base_url.startswith("https://"))))
    return privacy.session(session_key_for(server_key), cookie)


MySession = Annotated[str | None, Depends(_my_session)]


@router.get("/v1/scans/mine", response_model=MyScansOut)
def my_scans(session: MySession, recorder: ScanRecorderDep, s: SessionDep) -> MyScansOut:
    """This browser's session reference and how many scans the log holds of it (its cookie decides)."""
    if session is None:
        return MyScansOut(session=None, scans=0)
    recorder.flush(2.0)  # this browser's scans still queued count too
    return MyScansOut(session=session, scans=service.count_session(s, session))


@router.delete("/v1/scans/mine", response_model=DeletedOut)
async def delete_my_scans(session: MySession, recorder: ScanRecorderDep, engine: EngineDep) -> DeletedOut:
    """Deletes every scan of this browser's session (its cookie), for every brand; says how many."""
    if session is None:
        return DeletedOut(session=None, deleted=0)
    await run_in_threadpool(recorder.flush, 2.0)  # this browser's scans still queued are deleted too
    return DeletedOut(session=session, deleted=await run_in_threadpool(_delete, recorder, engine, session, None))


def _delete(recorder: ScanRecorder, engine: Engine, session: str, brand_id: str | None) -> int:
    """The session's raw scans go; so does the session in the alerts' copies of them (the copies' tap
    evidence and coarse place stay as the alerts' proof)."""
    recorder.flush(2.0)
    with session_scope(engine) as s:
        forget_session(s, session, brand_id)
        return service.delete_session(s, session, brand_id)


@router.delete("/v1/brands/me/scans/sessions/{session}", response_model=DeletedOut)
def delete_session_scans(
    session: SessionRef, brand: BrandDep, recorder: ScanRecorderDep, engine: EngineDep
) -> DeletedOut:
    """Deletes the brand's scans of one session, by the reference the buyer quotes (a data subject's
    erasure request reaching the brand); other brands' scans of that session stay."""
    return DeletedOut(session=session, deleted=_delete(recorder, engine, session, brand.id))


@router.delete("/v1/scans/sessions/{session}", response_model=DeletedOut, dependencies=[OperatorDep])
def operator_delete_session_scans(session: SessionRef, recorder: ScanRecorderDep, engine: EngineDep) -> DeletedOut:
    """Operator: deletes one session's scans of every brand."""
    return DeletedOut(session=session, deleted=_delete(recorder, engine, session, None))


@router.get("/v1/scans/status", response_model=ScanStatusOut, dependencies=[OperatorDep])
def scan_status(recorder: ScanRecorderDep) -> ScanStatusOut:
    """Operator: the recorder's counters since start (drops included) and what waits in its queue."""
    st = recorder.stats
    return ScanStatusOut(
        enabled=recorder.enabled,
        queued=st.queued,
        written=st.written,
        dropped_full=st.dropped_full,
        dropped_failed=st.dropped_failed,
        batches=st.batches,
        waiting=recorder.waiting,
    )
