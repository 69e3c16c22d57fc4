"""One twin row, whoever writes it: the mint worker (right after its mint, from the request) and the
indexer (later or elsewhere, from the batch directory on IPFS) build the same row for the same twin,
and content nobody vetted (anyone may mint into a collection it indexes) cannot stop the indexer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect
from sqlmodel import Session, col, select

from registry.brands.models import Brand, Collection
from registry.db.engine import make_engine, migrate, session_scope
from registry.events.models import ChainEvent
from registry.indexer.projection import build_batch
from registry.ipfs.store import LocalBlockStore, add_directory
from registry.jobs import recording
from registry.jobs.models import Chunk, ChunkState, Job
from registry.twins import metadata
from registry.twins.models import Twin
from registry.twins.projection import twin_row
from registry.twins.schemas import PhysicalTwinIn

ADDRESS = "0x" + "aa" * 20
CUSTODIAN = "0x" + "cc" * 20
TX = "0x" + "11" * 32
BATCH = 3


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    migrate(engine)
    with session_scope(engine) as s:
        s.add(Brand(id="brand", name="Brand", chain_brand_id=1, admin_address=CUSTODIAN))
        s.flush()
        s.add(Collection(address=ADDRESS, brand_id="brand", name="C", symbol="C"))
    yield engine
    engine.dispose()


def _twins(s: Session) -> list[Twin]:
    return list(s.exec(select(Twin).order_by(col(Twin.token_id))).all())


def _index(engine: Engine, store: LocalBlockStore, files: dict[str, bytes], size: int) -> None:
    """What the indexer does with the BatchMinted event of a batch whose directory holds `files`."""
    directory = add_directory(store, files).cid
    args = {"batchId": BATCH, "size": size, "anchor": "0x" + directory.digest.hex(), "kind": 0, "custodian": CUSTODIAN}
    with session_scope(engine) as s:
        event = ChainEvent(
            block_number=9,
            block_hash="0x" + "22" * 32,
            tx_hash=TX,
            log_index=0,
            address=ADDRESS,
            name="BatchMinted",
            token_id=BATCH * 10_000 + 1,
            args=json.dumps(args),
        )
        s.add(event)
    build_batch(engine, store, event)


def test_a_row_has_every_column_its_writers_know(engine: Engine) -> None:
    """The builder names every column but the event-driven state the indexer folds in afterwards."""
    row = twin_row(
        collection=ADDRESS, token=30_001, batch_id=BATCH, kind="physical", metadata={}, document=b"{}",
        metadata_cid="cid", dir_cid="dir", tx_hash=TX, block_number=1, brand_id=None, job_id=None, claim_key=None,
    )  # fmt: skip
    columns = {c["name"] for c in inspect(engine).get_columns("twins")}
    assert set(row) == columns - {"status", "claimed", "burned", "owner_since", "last_serviced_at"}
    assert row["token_uri"] == "ipfs://dir/30001"


def test_the_worker_and_the_indexer_write_the_same_twin(engine: Engine, tmp_path: Path) -> None:
    twins = [
        PhysicalTwinIn(name="Coat", gtin="09506000134352", serial="S1", description="wool"),
        PhysicalTwinIn(name="Scarf", gtin="09506000134352", serial="S2"),
    ]
    payload = [
        {"kind": "physical", "name": t.name, "gtin": t.gtin, "serial": t.serial}
        | {"metadata": metadata.physical(t, brand="Brand", base_url="https://id.example")}
        for t in twins
    ]
    payload[1]["claim_key"] = "0x" + "dd" * 20
    store = LocalBlockStore(tmp_path / "blocks")
    with session_scope(engine) as s:
        job = Job(id=str(uuid.uuid4()), brand_id="brand", request_hash="h", kind="batch", total=2)
        s.add(job)
        s.flush()
        chunk = Chunk(job_id=job.id, seq=0, collection=ADDRESS, twin_kind=0, size=2, payload=json.dumps(payload))
        files = recording.chunk_files([chunk], BATCH)
        directory = add_directory(store, files).cid
        chunk.batch_id, chunk.dir_cid, chunk.tx_hash, chunk.block_number = BATCH, str(directory), TX, 9
        chunk.state = ChunkState.confirmed
        s.add(chunk)
        s.flush()
        recording.write_twins(s, [chunk], {})
        by_worker = [t.model_dump() for t in _twins(s)]
        s.execute(Twin.__table__.delete())  # type: ignore[attr-defined]
    # The indexer never saw the request: a database of its own, and only the chain and the directory.
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(other)
    _index(other, store, files, 2)
    with session_scope(other) as s:
        by_indexer = [t.model_dump() for t in _twins(s)]
    other.dispose()

    def shared(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Who asked for it (job, brand) only the worker knows; the owner the indexer folds in.
        return [{k: v for k, v in r.items() if k not in {"job_id", "brand_id", "owner", "minted_at"}} for r in rows]

    assert len(by_worker) == 2 and shared(by_worker) == shared(by_indexer)
    assert [(t["gtin"], t["serial"], t["claim_key"]) for t in by_indexer] == [
        ("09506000134352", "S1", None),
        ("09506000134352", "S2", "0x" + "dd" * 20),
    ]


def test_content_of_any_shape_is_indexed_without_passport_fields(engine: Engine, tmp_path: Path) -> None:
    """Metadata whose `twinmark` or passport is no object, or whose GTIN is no string, is anyone's
    JSON: the twin is indexed with its name and no GTIN or serial (before, the first stopped the
    batch's build with an AttributeError, every pass; the last broke the insert on PostgreSQL)."""
    documents = [
        {"name": "a", "twinmark": "not an object"},
        {"name": "b", "twinmark": {"passport": ["not", "an", "object"]}},
        {"name": "c", "twinmark": {"passport": {"gtin": 9506000134352, "serial": ["S"]}}},
    ]
    files = {str(BATCH * 10_000 + i + 1): json.dumps(d).encode() for i, d in enumerate(documents)}
    _index(engine, LocalBlockStore(tmp_path / "blocks"), files, len(documents))
    with session_scope(engine) as s:
        rows = [(t.name, t.gtin, t.serial, t.owner) for t in _twins(s)]
    assert rows == [("a", None, None, CUSTODIAN), ("b", None, None, CUSTODIAN), ("c", None, None, CUSTODIAN)]
