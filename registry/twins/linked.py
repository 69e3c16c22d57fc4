"""A collection's virtual twins as Decentraland linked wearables (v2 mapping document)."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.brands.models import Collection
from registry.errors import NotFound
from registry.twins.models import Twin
from registry.wearables.linked import mapping_document, network_for
from registry.wearables.schemas import LinkedWearables


def virtual_runs(session: Session, contract: str) -> list[tuple[int, int]]:
    """Runs of consecutive token ids of the collection's virtual twins. Batches hold one kind and
    number their tokens consecutively, so a recorded batch is usually one run; a batch with gaps is
    split by reading its ids."""
    runs: list[tuple[int, int]] = []
    per_batch = session.exec(
        select(Twin.batch_id, func.min(Twin.token_id), func.max(Twin.token_id), func.count())
        .where(Twin.collection == contract, Twin.kind == "virtual")
        .group_by(col(Twin.batch_id))
        .order_by(col(Twin.batch_id))
    ).all()
    for batch_id, first, last, count in per_batch:
        if last - first + 1 == count:
            runs.append((first, last))
            continue
        ids = session.exec(
            select(Twin.token_id)
            .where(Twin.collection == contract, Twin.kind == "virtual", Twin.batch_id == batch_id)
            .order_by(col(Twin.token_id))
        ).all()
        start = prev = ids[0]
        for token in ids[1:]:
            if token != prev + 1:
                runs.append((start, prev))
                start = token
            prev = token
        runs.append((start, prev))
    return runs


def linked_wearables(session: Session, contract: str, chain_id: int, network: str | None = None) -> LinkedWearables:
    """The mapping document of a collection this registry knows, with what it covers (validated here:
    the network name and the mappings become Decentraland's typed `ContractNetwork` and `Mapping`)."""
    collection = session.get(Collection, contract)  # `contract` checksummed, as collections are stored
    if collection is None:
        raise NotFound(f"no collection {contract}")
    name = network_for(chain_id, network)
    runs = virtual_runs(session, collection.address)
    return LinkedWearables.model_validate(
        {
            "collection": collection.address,
            "chain_id": chain_id,
            "network": name,
            "tokens": sum(last - first + 1 for first, last in runs),
            "mappings": mapping_document(name, collection.address, runs),
        }
    )
