"""Provenance: a twin's timeline, oldest first, each step with block time and transaction hash. Every
step a resale partner needs: minted (by whom, which batch), claimed, transfers, status changes,
service records (with their documents' CIDs), content updates, links, burn.

Served from the index (the indexer keeps it from the chain, reorg-safe, `confirmations` behind the
head) plus the blocks the index has not reached yet, read from the chain: the chain part spans only
those blocks, so no answer scans the chain from its start. `source="chain"` reads everything from the
chain (bounded by `log_span` per query), for a partner who trusts no database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select as sa_select
from sqlmodel import Session, col
from web3 import Web3

from registry.chain.client import TwinmarkChain
from registry.chain.layout import batch_of, batch_tokens, first_token
from registry.chain.reads import ChainLog
from registry.db import ratelimit
from registry.db.ratelimit import Limit
from registry.errors import ChainUnavailable
from registry.events.models import ChainEvent
from registry.events.public import describe
from registry.indexer.models import IndexCursor
from registry.provenance.schemas import TimelineEntry
from registry.settings import Settings

Source = Literal["index", "chain"]
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class History:
    """A token's events and how far they reach: `indexed_to` is the last block the index had
    (None: nothing came from the index), `as_of_block` the head the answer is current to."""

    logs: list[ChainLog]
    source: Source
    indexed_to: int | None
    indexed_hash: str | None
    as_of_block: int


def indexed_logs(session: Session, chain: TwinmarkChain, contract: str, token_id: int) -> list[ChainLog]:
    """The token's events as the index holds them (one range of `ix_chain_events_address_token`)."""
    return indexed_many(session, chain, [(contract, token_id)])[(contract, token_id)]


_COLUMNS = (
    col(ChainEvent.address),
    col(ChainEvent.token_id),
    col(ChainEvent.name),
    col(ChainEvent.args),
    col(ChainEvent.block_number),
    col(ChainEvent.log_index),
    col(ChainEvent.tx_hash),
    col(ChainEvent.block_time),
    col(ChainEvent.block_hash),
)


def indexed_many(
    session: Session, chain: TwinmarkChain, pairs: list[tuple[str, int]], *, names: set[str] | None = None
) -> dict[tuple[str, int], list[ChainLog]]:
    """The events of several (contract, token) as the index holds them (only `names`, when given), in
    one query (columns only: this serves every cold verification)."""
    mint_keys = {token: first_token(batch_of(token)) for _, token in pairs}  # BatchMinted rows' key
    query = sa_select(*_COLUMNS).where(
        col(ChainEvent.address).in_({address for address, _ in pairs}),
        col(ChainEvent.token_id).in_({token for _, token in pairs} | set(mint_keys.values())),
    )
    if names is not None:
        query = query.where(col(ChainEvent.name).in_(names))
    rows = session.execute(query.order_by(col(ChainEvent.block_number), col(ChainEvent.log_index))).all()
    # Rows recorded before block times were kept: their blocks' headers, once per answer.
    untimed = [{"blockHash": r.block_hash} for r in rows if r.block_time is None]
    times = chain.block_times(untimed) if untimed else {}
    found: dict[tuple[str, int], list[ChainLog]] = {pair: [] for pair in pairs}
    for r in rows:
        stamp = r.block_time if r.block_time is not None else times.get(r.block_hash, 0)
        event = ChainLog(
            r.name,
            json.loads(r.args),
            r.block_number,
            r.log_index,
            r.tx_hash,
            datetime.fromtimestamp(stamp, UTC),
            r.block_hash,
        )
        for address, token in pairs:
            if address != r.address:
                continue
            if (r.name == "BatchMinted" and mint_keys[token] == r.token_id) or (
                r.name != "BatchMinted" and token == r.token_id
            ):
                found[(address, token)].append(event)
    return found


def about(token_id: int, logs: list[ChainLog]) -> list[ChainLog]:
    """Drops the mint of a batch that does not hold the token (a token id past the batch's size)."""
    return [
        log
        for log in logs
        if log.name != "BatchMinted" or token_id <= batch_tokens(int(log.args["batchId"]), int(log.args["size"]))[1]
    ]


def indexed_part(
    session: Session, chain: TwinmarkChain, contract: str, token_id: int
) -> tuple[list[ChainLog], int | None, str | None]:
    """(events, last indexed block, its hash) of what the index holds about the token; nothing when
    the index has not started (the chain then tells everything)."""
    found, indexed_to, indexed_hash = indexed_part_many(session, chain, [(contract, token_id)])
    return found[(contract, token_id)], indexed_to, indexed_hash


def indexed_part_many(
    session: Session, chain: TwinmarkChain, pairs: list[tuple[str, int]]
) -> tuple[dict[tuple[str, int], list[ChainLog]], int | None, str | None]:
    """`indexed_part` of several twins at once."""
    cursor = session.execute(
        sa_select(col(IndexCursor.next_block), col(IndexCursor.last_hash)).where(
            col(IndexCursor.chain_id) == chain.chain_id
        )
    ).first()
    if cursor is None or cursor.next_block <= chain.from_block:
        return {pair: [] for pair in pairs}, None, None
    return indexed_many(session, chain, pairs), cursor.next_block - 1, cursor.last_hash


def chain_read_quota(session: Session, settings: Settings, client: str) -> None:
    """Counts one chain-only read for `client`; 429 once its minute's quota is used."""
    per_minute, ceiling = settings.chain_provenance_per_minute, settings.chain_provenance_ceiling_per_minute
    limit = Limit("provenance-chain:client", per_minute, MINUTE, "chain-only reads", ceiling)
    ratelimit.hit(session, [(limit, client)])
    session.commit()  # spent even if the read then fails


def history(session: Session, chain: TwinmarkChain, contract: str, token_id: int, source: Source = "index") -> History:
    """The token's events: from the index and the chain beyond it, or (`source="chain"`) from the chain."""
    address = Web3.to_checksum_address(contract)
    logs, indexed_to, indexed_hash = (
        indexed_part(session, chain, address, token_id) if source == "index" else ([], None, None)
    )
    if indexed_to is None:
        head = chain.block_number()
        return History(about(token_id, chain.history(address, token_id)), "chain", None, None, head)
    try:
        head = chain.block_number()
        if head > indexed_to:
            logs += chain.history(address, token_id, start=indexed_to + 1)
    except ChainUnavailable:
        # The node is away: the index still answers, current to the block it reached.
        return History(about(token_id, logs), "index", indexed_to, indexed_hash, indexed_to)
    return History(about(token_id, logs), "index", indexed_to, indexed_hash, max(head, indexed_to))


def timeline(logs: list[ChainLog]) -> list[TimelineEntry]:
    """The human form of a token's events, oldest first."""
    claim_txs = {log.tx_hash for log in logs if log.name == "Claimed"}
    claim_transfers = {log.tx_hash: log.args for log in logs if log.name == "Transfer" and log.tx_hash in claim_txs}
    entries: list[TimelineEntry] = []
    for log in logs:
        described = describe(log.name, log.args, in_claim=log.tx_hash in claim_txs)
        if described is None:
            continue
        kind, data = described
        if kind == "claimed":  # the claim names who received the twin from whom
            transfer = claim_transfers.get(log.tx_hash)
            data = {"from": transfer["from"] if transfer else None, "to": transfer["to"] if transfer else None}
        elif kind == "burned":
            data = data | {"by_owner": data["from"]}  # the timeline's original name for who burned it
        entries.append(
            TimelineEntry(
                event=kind,
                block_number=log.block_number,
                block_time=log.block_time.isoformat(),
                tx_hash=log.tx_hash,
                **data,
            )
        )
    return entries


@dataclass(frozen=True)
class Ownership:
    """What a verification answer adds from the timeline."""

    owner_since: str | None  # block time of the current owner's arrival (the mint, for the custodian)
    owners: int  # distinct holders so far, the custodian included
    last_service_record: TimelineEntry | None


def summary(entries: list[TimelineEntry], owner: str) -> Ownership:
    """Owner since, number of owners, last service record."""
    holders: list[str] = []
    owner_since = None
    last_record = None
    for e in entries:
        if e.event == "minted":
            holders.append(e.get("custodian"))
            owner_since = e.block_time
        elif e.event in ("claimed", "transferred") and e.get("to"):
            holders.append(e.get("to"))
            if e.get("to") == owner:
                owner_since = e.block_time
        elif e.event == "service_recorded":
            last_record = e
    return Ownership(owner_since, len(dict.fromkeys(holders)), last_record)
