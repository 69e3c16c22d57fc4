"""Following a transaction of the service by its hash."""

from __future__ import annotations

from typing import Any

from registry.chain.client import TwinmarkChain
from registry.errors import NotFound


def transaction(chain: TwinmarkChain, tx_hash: str) -> dict[str, Any]:
    """Where a transaction of the service is: pending, mined, reverted (with the decoded refusal),
    replaced (with the version to follow) or dropped; NotFound for any other hash."""
    report = chain.transaction(tx_hash)
    if report is None:
        raise NotFound(f"no transaction {tx_hash} of this service (unknown to the node, or sent by someone else)")
    out: dict[str, Any] = {
        "tx_hash": report.tx_hash,
        "state": report.state,
        "block_number": report.block_number,
        "block_hash": report.block_hash,
        "replaced_by": report.replaced_by,
    }
    if report.reverted is not None and report.refusal is not None:
        out |= {"reason": report.reverted.name, "code": report.refusal.code, "detail": report.refusal.detail}
    return out


def with_state(chain: TwinmarkChain, answer: dict[str, Any]) -> dict[str, Any]:
    """A relayed call's answer (with its `tx_hash`) and how it was answered: mined or pending."""
    return answer | {"state": chain.relay_state(answer["tx_hash"])}
