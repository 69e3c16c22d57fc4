"""The sampled gauges: what no single event records but a periodic look answers.

The process holding the indexer's lease (one at a time, across processes) reads the shared facts:
the chain head next to the indexer's, the webhook outbox's backlog and oldest age, the open mint
jobs by state, and the pins by provider and state. Every process whose sender has sent reads
its own nonce next to the node's (the drift a jammed sender shows). Several API workers export the
result through one multiprocess directory (registry/metrics/families.py says how values combine)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from registry.chain.client import TwinmarkChain
from registry.db.engine import session_scope
from registry.jobs.models import Job, JobState
from registry.metrics import record as metrics
from registry.pinning.models import PinState
from registry.pinning.service import pin_states
from registry.webhooks.models import Delivery

log = logging.getLogger(__name__)
OPEN_JOB_STATES = (JobState.accepted.value, JobState.running.value)


def open_jobs_query() -> Select[str, int]:
    """Open jobs by state: a search of `ix_jobs_state`, not a scan of every job ever submitted."""
    return select(Job.state, func.count()).where(col(Job.state).in_(OPEN_JOB_STATES)).group_by(Job.state)


class Sampler:
    def __init__(
        self,
        engine: Engine,
        chain: TwinmarkChain,
        chain_head: Callable[[], int],
        leads: Callable[[], bool],
        interval: float,
        store: str,
        pin_providers: Sequence[str] = (),
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.chain_head = chain_head  # the head watcher's block (no node call)
        self.leads = leads  # whether this process holds the indexer's lease now
        self.interval = interval
        self.pin_providers = tuple(pin_providers)  # configured remote pinning services, by name
        metrics.declare(chain.chain_id, {chain.signer, chain.operator_address}, store)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            if metrics.enabled():
                self.sample()

    def sample(self) -> None:
        """One look; a dependency away only skips what it would have answered."""
        try:
            for signer, onchain, local in self.chain.nonces():
                metrics.nonce(self.chain.chain_id, signer, onchain=onchain, local=local)
        except Exception as exc:  # the node away: the nonce gauges keep their last values
            log.debug("metrics: nonces not sampled (%s)", type(exc).__name__)
        if not self.leads():
            return
        metrics.heads(self.chain.chain_id, chain=self.chain_head())
        try:
            self._database()
        except Exception as exc:
            log.debug("metrics: database gauges not sampled (%s)", type(exc).__name__)

    def _database(self) -> None:
        now = datetime.now(UTC)
        with session_scope(self.engine) as s:
            backlog, oldest = s.exec(
                select(func.count(), func.min(Delivery.created_at)).where(col(Delivery.state) == "pending")
            ).one()
            jobs = s.exec(open_jobs_query()).all()
            pins = pin_states(s) if self.pin_providers else {}
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = (now - oldest).total_seconds()
        metrics.outbox(int(backlog), age)
        metrics.mint_jobs({state: int(n) for state, n in jobs}, OPEN_JOB_STATES)
        if self.pin_providers:
            metrics.pins(pins, self.pin_providers, [state.value for state in PinState])
