"""Following a transaction of the service by its hash."""

from __future__ import annotations

from registry.chain.client import TwinmarkChain
from registry.errors import NotFound
from registry.provenance.schemas import ServiceRecordOut
from registry.transactions.schemas import ServiceRecordRelayed, TransactionOut


def transaction(chain: TwinmarkChain, tx_hash: str) -> TransactionOut:
    """Where a transaction of the service is: pending, mined, reverted (with the decoded refusal),
    replaced (with the version to follow) or dropped; NotFound for any other hash."""
    report = chain.transaction(tx_hash)
    if report is None:
        raise NotFound(f"no transaction {tx_hash} of this service (unknown to the node, or sent by someone else)")
    out = TransactionOut(
        tx_hash=report.tx_hash,
        state=report.state,
        block_number=report.block_number,
        block_hash=report.block_hash,
        replaced_by=report.replaced_by,
    )
    if report.reverted is not None and report.refusal is not None:
        out.reason, out.code, out.detail = report.reverted.name, report.refusal.code, report.refusal.detail
    return out


def with_state(chain: TwinmarkChain, record: ServiceRecordOut) -> ServiceRecordRelayed:
    """A relayed service record's answer and how it was answered: mined or pending."""
    return ServiceRecordRelayed(**dict(record), state=chain.relay_state(record.tx_hash))
