"""Accepting mint requests: validate everything first, then persist one job with its chunks.

Nothing touches the chain or IPFS here; the worker does that. A request either becomes a job in
one database transaction or is refused whole, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.assets.service import check_assets
from registry.auth.service import Caller
from registry.brands.models import Brand, Collection
from registry.chain.layout import Kind
from registry.claims import service as claims
from registry.claims.keys import claim_key, new_secret
from registry.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from registry.ipfs.urls import gateway_url
from registry.jobs.models import Chunk, Identifier, Job
from registry.jobs.schemas import ClaimSecretsLink, JobBatch, JobCounts, JobOut, JobTwin
from registry.metrics import tracing
from registry.settings import Settings
from registry.twins import metadata
from registry.twins.models import Twin
from registry.twins.prices import refuse_prices
from registry.twins.schemas import PhysicalTwinIn, VirtualTwinIn, garments, required_assets
from registry.wearables.service import check_garments

AnyTwin = PhysicalTwinIn | VirtualTwinIn


@dataclass(frozen=True)
class Submitted:
    job: Job
    created: bool  # False: an idempotent replay of an earlier request
    chunks: list[Chunk] | None = None  # a new job's chunks (its answer needs no query)
    sealed: bool = False  # a new job with claim secrets


def request_digest(kind: str, body: Any) -> str:
    return hashlib.sha256(kind.encode() + b"\0" + json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def brand_job(session: Session, brand: Brand, job_id: str) -> Job:
    """The brand's job; another brand's job does not exist for it."""
    job = session.get(Job, job_id)
    if job is None or job.brand_id != brand.id:
        raise NotFound(f"no job {job_id}")
    return job


def find_by_key(session: Session, brand_id: str, key: str) -> Job | None:
    return session.exec(select(Job).where(Job.brand_id == brand_id, Job.idempotency_key == key)).first()


def _identifiers(twins: Sequence[AnyTwin]) -> list[tuple[str, str]]:
    pairs = [(t.gtin, t.serial) for t in twins if isinstance(t, PhysicalTwinIn)]
    dupes = [pair for pair, n in Counter(pairs).items() if n > 1]
    if dupes:
        raise InvalidInput(f"GTIN/serial repeated within the request: {dupes[:5]}")
    return pairs


def _check_identifiers(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    """Conflict naming the pairs that already have a twin (asked after the insert of their rows failed)."""
    taken: list[tuple[str, str]] = []
    by_gtin: dict[str, list[str]] = {}
    for gtin, serial in pairs:
        by_gtin.setdefault(gtin, []).append(serial)
    for gtin, serials in by_gtin.items():
        for i in range(0, len(serials), 500):
            rows = session.exec(
                select(Identifier).where(Identifier.gtin == gtin, col(Identifier.serial).in_(serials[i : i + 500]))
            )
            taken += [(r.gtin, r.serial) for r in rows]
    if taken:
        raise Conflict(f"these GTIN/serial pairs already have a twin: {taken[:5]}")


def _check_links(
    session: Session, brand_id: str, twins: Sequence[AnyTwin], alive: Callable[[str, int], bool] | None
) -> None:
    """Links are checked now, so a job never waits on one that cannot succeed: the target is a physical
    twin of the same brand, not destroyed (per the index, and per the chain when `alive` is given)."""
    for t in twins:
        if isinstance(t, VirtualTwinIn) and t.physical_twin is not None:
            ref = t.physical_twin
            target = session.get(Twin, (ref.contract, ref.token_id))
            if target is None:
                raise NotFound(f"physical twin {ref.contract}/{ref.token_id} is not in the registry")
            if target.brand_id != brand_id:
                raise InvalidInput("a virtual twin can only link to a physical twin of the same brand")
            if target.kind != "physical":
                raise InvalidInput(f"twin {ref.contract}/{ref.token_id} is not a physical twin")
            if target.burned or (alive is not None and not alive(ref.contract, ref.token_id)):
                raise InvalidInput(f"physical twin {ref.contract}/{ref.token_id} was destroyed: nothing to link to")


def submit(
    session: Session,
    settings: Settings,
    *,
    brand: Brand,
    collections: list[Collection],
    twins: Sequence[AnyTwin],
    kind: str,
    idempotency_key: str | None,
    digest: str,
    chain_id: int,
    caller: Caller,
    alive: Callable[[str, int], bool] | None = None,
) -> Submitted:
    """The job for this request, created now or (an idempotent replay) earlier."""
    if idempotency_key:
        existing = find_by_key(session, brand.id, idempotency_key)
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict("this Idempotency-Key was used for a different request")
            return Submitted(existing, created=False)
    if len(twins) > settings.max_twins_per_request:
        raise PayloadTooLarge(f"at most {settings.max_twins_per_request} twins per request")
    owned = {c.address.lower(): c for c in collections}
    default = collections[0]
    check_assets(session, brand.id, required_assets(twins))
    specs = garments(twins)
    meets = dict(zip(specs, check_garments(session, list(specs.values())), strict=True))
    _check_links(session, brand.id, twins, alive)
    # Whether a pair is taken is not asked first: the identifiers' primary key refuses it at the insert
    # below (one statement fewer for every request; the pairs are then named in the Conflict).
    pairs = _identifiers(twins)

    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    claim_secrets: list[claims.SealedSecret] = []
    for index, t in enumerate(twins):
        target = owned.get((t.collection or default.address).lower())
        if target is None:
            raise NotFound(f"collection {t.collection} does not belong to this brand")
        if target.no_prices:
            refuse_prices(t.model_dump(mode="json", exclude_none=True), f"twins[{index}]")
        if isinstance(t, PhysicalTwinIn):
            doc = metadata.physical(t, brand=brand.name, base_url=settings.base_url)
            item: dict[str, Any] = {"kind": "physical", "name": t.name, "gtin": t.gtin, "serial": t.serial}
        else:
            doc = metadata.virtual(t, brand=brand.name, meets=meets[index])
            link = t.physical_twin.model_dump() if t.physical_twin else None
            item = {"kind": "virtual", "name": t.name, "link": link}
        item["metadata"] = doc
        if t.claimable:
            # Only the derived claim key (an address) is kept in clear; the secret is sealed below.
            secret = new_secret()
            item["claim_key"] = claim_key(secret, chain_id, target.address).address
            claim_secrets.append(
                {
                    "index": index,
                    "name": t.name,
                    "gtin": item.get("gtin"),
                    "serial": item.get("serial"),
                    "collection": target.address,
                    "claim_key": item["claim_key"],
                    "secret": secret,
                }
            )
        groups.setdefault((target.address, int(Kind[t.kind])), []).append(item)

    job = Job(
        id=str(uuid.uuid4()),
        brand_id=brand.id,
        idempotency_key=idempotency_key,
        request_hash=digest,
        kind=kind,
        total=len(twins),
        trace_context=tracing.carrier(),
    )
    chunks: list[Chunk] = []
    for (address, kind_code), items in groups.items():
        for i in range(0, len(items), settings.chunk_size):
            part = items[i : i + settings.chunk_size]
            chunks.append(
                Chunk(
                    job_id=job.id,
                    seq=len(chunks),
                    collection=address,
                    twin_kind=kind_code,
                    size=len(part),
                    payload=json.dumps(part, separators=(",", ":")),
                )
            )
    try:
        # No savepoint: its two extra statements would run while the write lock is held. A failed
        # insert rolls the whole request back instead (it has written nothing else).
        # Bulk inserts, not the unit of work: a single twin's request spent more CPU in the ORM's
        # bookkeeping of these three rows than in anything else. The job first: the others refer to it.
        session.execute(insert(Job), [job.model_dump()])
        if pairs:
            session.execute(insert(Identifier), [{"gtin": g, "serial": s, "job_id": job.id} for g, s in pairs])
        if claim_secrets:
            claims.seal_secrets(session, job.id, caller, claim_secrets)
            session.flush()
        session.execute(insert(Chunk), [c.model_dump(exclude={"id"}) for c in chunks])
    except IntegrityError:
        session.rollback()
        # The same request sent twice at once: the other copy may have stored its job (taking these
        # serials) since the key was looked up above; that job is this request's answer, not a 409.
        # Otherwise a GTIN/serial pair is taken: named when it has a twin, else just taken.
        existing = find_by_key(session, brand.id, idempotency_key) if idempotency_key else None
        if existing is None:
            _check_identifiers(session, pairs)
            raise Conflict("a GTIN/serial pair of this request was just taken by another request") from None
        if existing.request_hash != digest:
            raise Conflict("this Idempotency-Key was used for a different request") from None
        return Submitted(existing, created=False)
    return Submitted(job, created=True, chunks=chunks, sealed=bool(claim_secrets))


def job_view(session: Session, job: Job, *, gateway_base: str = "", limit: int = 1000, offset: int = 0) -> JobOut:
    """The job, its batches and (a page of) its twins, with their tokens' https URLs under `gateway_base`."""
    chunks = session.exec(select(Chunk).where(Chunk.job_id == job.id).order_by(col(Chunk.seq))).all()
    twins: Sequence[Twin] = []
    if limit > 0:
        twins = session.exec(
            select(Twin)
            .where(Twin.job_id == job.id)
            .order_by(col(Twin.collection), col(Twin.token_id))
            .offset(offset)
            .limit(limit)
        ).all()
    return _view(job, chunks, twins, claims.has_secrets(session, job.id), gateway_base)


def accepted_view(submitted: Submitted, session: Session) -> JobOut:
    """The answer to a mint request: a new job is described from what was just stored, without a query."""
    if submitted.chunks is None:
        return job_view(session, submitted.job, limit=0)
    return _view(submitted.job, submitted.chunks, [], submitted.sealed, "")


def _view(job: Job, chunks: Sequence[Chunk], twins: Sequence[Twin], vault: bool, gateway_base: str) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        claim_secrets=(
            ClaimSecretsLink(available=True, url=f"/v1/jobs/{job.id}/claim-secrets", once=True) if vault else None
        ),
        state=job.state,
        error=job.error,
        counts=JobCounts(requested=job.total, recorded=job.recorded),
        created_at=job.created_at,
        updated_at=job.updated_at,
        batches=[
            JobBatch(
                seq=c.seq,
                collection=c.collection,
                size=c.size,
                state=c.state,
                batch_id=c.batch_id,
                offset=c.batch_offset,
                directory_cid=c.dir_cid,
                tx_hash=c.tx_hash,
                error=c.error,
            )
            for c in chunks
        ],
        twins=[
            JobTwin(
                contract=t.collection,
                token_id=t.token_id,
                kind=t.kind,
                name=t.name,
                gtin=t.gtin,
                serial=t.serial,
                token_uri=t.token_uri,
                token_url=gateway_url(t.token_uri, gateway_base),
                tx_hash=t.tx_hash,
            )
            for t in twins
        ],
    )
