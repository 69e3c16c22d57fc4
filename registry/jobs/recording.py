"""What a batch leaves behind: its directory of metadata files and claim root (before the mint), its
on-chain links and its twin rows (after it). Built from the chunks' payloads alone, so a resumed
mint rebuilds exactly the directory it began; no state changes here (the worker makes those)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlmodel import Session

from registry.chain.client import TwinmarkChain
from registry.chain.layout import token_id
from registry.chain.refusals import BrandCompromised, BrandSuspended
from registry.claims.merkle import ClaimTree
from registry.errors import TwinmarkError
from registry.ipfs.unixfs import file_cid
from registry.jobs.models import Chunk
from registry.jobs.states import locked_jobs
from registry.twins.metadata import canonical, referenced_cids
from registry.twins.projection import CLAIM_KEYS_FILE, twin_row, upsert_twins

log = logging.getLogger(__name__)


class LinkRefused(TwinmarkError):
    code, status, title = "link-refused", 409, "The contract refused a link"


# ---------------------------------------------------------------- before the mint


def batch_items(members: Sequence[Chunk]) -> list[dict[str, Any]]:
    """The twins of a batch in token order: its chunks' payloads one after another, by offset."""
    return [item for m in sorted(members, key=lambda c: c.batch_offset) for item in json.loads(m.payload)]


def plan(members: Sequence[Chunk], batch_id: int) -> tuple[dict[str, bytes], str | None]:
    """The batch directory (one canonical metadata file per token, named by token id) and its claim
    commitment (a Merkle root over (token id, claim key) of its claimable twins, whichever of its
    chunks they came from: claims prove against the whole batch's tree), from one read of the payloads."""
    items = batch_items(members)
    files = {str(token_id(batch_id, i)): canonical(item["metadata"]) for i, item in enumerate(items)}
    leaves = [(token_id(batch_id, i), item["claim_key"]) for i, item in enumerate(items) if item.get("claim_key")]
    if leaves:
        # Public: claim keys are addresses, useless without the secrets, and let anyone rebuild proofs.
        files[CLAIM_KEYS_FILE] = canonical({"leaves": [list(leaf) for leaf in leaves]})
    return files, ClaimTree(leaves).root.hex() if leaves else None


def chunk_files(members: Sequence[Chunk], batch_id: int) -> dict[str, bytes]:
    """The batch directory alone (`plan`)."""
    return plan(members, batch_id)[0]


# ---------------------------------------------------------------- after it


def link_batch(chain: TwinmarkChain, members: Sequence[Chunk]) -> dict[int, str]:
    """Makes the on-chain links of the batch's virtual twins to their physical counterparts
    (idempotent). Returns, by chunk id, the links the contract refused for good (their target
    destroyed since submission): those twins are minted and are recorded all the same. Raises
    BrandSuspended or BrandCompromised when the brand may not act on chain right now."""
    refused: dict[int, str] = {}
    for m in members:
        try:
            _link(chain, m)
        except LinkRefused as exc:
            log.warning("batch %s of %s: link refused: %s", m.batch_id, m.collection, exc.detail)
            assert m.id is not None
            refused[m.id] = f"link refused: {exc.detail}"
    return refused


def _link(chain: TwinmarkChain, chunk: Chunk) -> None:
    """One chunk's links; those the contract refuses for good are skipped and reported together once
    the others are made."""
    assert chunk.batch_id is not None
    refused: list[str] = []
    for i, item in enumerate(json.loads(chunk.payload)):
        link = item.get("link")
        if not link:
            continue
        tid = token_id(chunk.batch_id, chunk.batch_offset + i)
        current = chain.link_of(chunk.collection, tid)
        if current[0].lower() == link["contract"].lower() and current[1] == link["token_id"]:
            continue
        try:
            chain.link_physical(chunk.collection, tid, link["contract"], link["token_id"])
        except (BrandSuspended, BrandCompromised):
            raise
        except TwinmarkError as exc:
            if exc.status >= 500:
                raise
            refused.append(f"token {tid}: {exc.detail}")
    if refused:
        raise LinkRefused("; ".join(refused))


class Written(NamedTuple):
    jobs: list[str]  # the ids of the batch's jobs
    # The root CIDs each job's twins need held (`{job id: cids}`): the batch directory and every asset
    # their metadata points at; what remote pinning services are asked to pin.
    contents: dict[str, set[str]]


def write_twins(s: Session, members: Sequence[Chunk], errors: dict[int, str]) -> Written:
    """Writes the twins of a confirmed batch, each with its own chunk's job, counts them on their jobs
    and keeps the chunks' link refusals (`errors`). Each payload is read once (a batch's twins are most
    of the worker's time)."""
    leader = members[0]
    assert leader.batch_id is not None and leader.dir_cid is not None
    jobs = locked_jobs(s, {m.job_id for m in members})  # counted on: see locked_jobs
    rows = []
    needs: dict[str, set[str]] = {}
    for m in members:
        job = jobs[m.job_id]
        wanted = needs.setdefault(m.job_id, {leader.dir_cid})
        for i, item in enumerate(json.loads(m.payload)):
            wanted.update(uri.split("/")[0] for uri in referenced_cids(item["metadata"]))
            document = canonical(item["metadata"])
            rows.append(
                twin_row(
                    collection=leader.collection,
                    token=token_id(leader.batch_id, m.batch_offset + i),
                    batch_id=leader.batch_id,
                    kind=item["kind"],
                    metadata=item["metadata"],
                    document=document,
                    metadata_cid=file_cid(document),
                    dir_cid=leader.dir_cid,
                    tx_hash=leader.tx_hash,
                    block_number=leader.block_number or 0,
                    brand_id=job.brand_id,
                    job_id=job.id,
                    claim_key=item.get("claim_key"),
                )
            )
        job.recorded += m.size
        if m.id in errors:
            m.error = errors[m.id]
    upsert_twins(s, rows, fill=("job_id", "brand_id", "claim_key"))
    return Written(list(jobs), needs)
