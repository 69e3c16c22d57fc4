"""What the domains call to record: one small function per fact, a no-op while metrics are off
(`TWINMARK_METRICS_ENABLED=false`), never raising into the caller's work."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

from registry.metrics import families as f
from registry.metrics import http as http_batch

_on = True


def enable(on: bool) -> None:
    global _on
    _on = on


def enabled() -> bool:
    return _on


def declare(chain_id: int, signers: Iterable[str], store: str) -> None:
    """Creates the series that start at zero, so a dashboard and an `increase()` see 0 before the first
    reorg, drop, failure or replacement rather than no data (Prometheus' advice for known labels)."""
    if not _on:
        return
    cid = str(chain_id)
    f.reorgs.labels(cid)
    for signer in signers:
        for state in ("queued", "sent", "mined", "replaced", "dropped"):
            f.transactions.labels(cid, signer, state)
    for kind in ("transport", "rpc"):
        f.rpc_errors.labels("eth_sendRawTransaction", kind)
    for outcome in ("delivered", "failed", "gave_up"):
        f.webhook_deliveries.labels(outcome)
    for reason in ("queue_full", "store_failed"):
        f.scans_dropped.labels(reason)
    for state in ("completed", "failed"):
        f.mint_jobs_finished.labels(state)
    f.content_integrity.labels(store)


# ------------------------------------------------------------------ HTTP


def http(method: str, handler: str, status: int, seconds: float) -> None:
    """One answer (added up in memory, written out once a second: registry/metrics/http.py)."""
    if _on:
        http_batch.observe(method, handler, status // 100, seconds)


# ------------------------------------------------------------------ transactions


def tx(chain_id: int, signer: str, state: str) -> None:
    """A transaction reached `state`: queued, sent, mined, replaced or dropped."""
    if _on:
        f.transactions.labels(str(chain_id), signer, state).inc()


def tx_stage(chain_id: int, stage: str, seconds: float) -> None:
    if _on:
        f.transaction_seconds.labels(str(chain_id), stage).observe(max(0.0, seconds))


def nonce(chain_id: int, signer: str, *, onchain: int, local: int) -> None:
    if _on:
        cid = str(chain_id)
        f.nonces.labels(cid, signer, "onchain").set(onchain)
        f.nonces.labels(cid, signer, "local").set(local)
        f.nonce_drift.labels(cid, signer).set(local - onchain)


# ------------------------------------------------------------------ node and indexer


def heads(chain_id: int, *, chain: int | None = None, indexed: int | None = None) -> None:
    if _on:
        if chain is not None:
            f.chain_head.labels(str(chain_id)).set(chain)
        if indexed is not None:
            f.indexer_head.labels(str(chain_id)).set(indexed)


def reorg(chain_id: int) -> None:
    if _on:
        f.reorgs.labels(str(chain_id)).inc()


def rpc(method: str, seconds: float, error: str | None = None) -> None:
    """One JSON-RPC request; `error` is its failure kind (transport, rpc), None when answered."""
    if _on:
        f.rpc_requests.labels(method).inc()
        f.rpc_duration.labels(method).observe(seconds)
        if error is not None:
            f.rpc_errors.labels(method, error).inc()


# ------------------------------------------------------------------ webhooks, scans, jobs, content


def webhook(outcome: str, seconds: float) -> None:
    if _on:
        f.webhook_deliveries.labels(outcome).inc()
        f.webhook_seconds.observe(seconds)


def outbox(backlog: int, oldest_seconds: float) -> None:
    if _on:
        f.outbox_backlog.set(backlog)
        f.outbox_oldest.set(max(0.0, oldest_seconds))


def scans_ingested(count: int) -> None:
    if _on and count:
        f.scans_ingested.inc(count)


def scan_dropped(reason: str, count: int = 1) -> None:
    if _on and count:
        f.scans_dropped.labels(reason).inc(count)


def scans_capped(count: int = 1) -> None:
    """Scans answered and not recorded: one network's repeats of one twin past the per-minute cap."""
    if _on:
        f.scans_capped.inc(count)


def mint_jobs(by_state: Mapping[str, int], states: Iterable[str]) -> None:
    """Jobs per state; every state of `states` is set (0 when none), so a drained state reads 0."""
    if _on:
        for state in states:
            f.mint_jobs.labels(state).set(by_state.get(state, 0))


def job_finished(state: str) -> None:
    if _on:
        f.mint_jobs_finished.labels(state).inc()


def content(op: str, store: str, count: int = 1) -> None:
    """Blocks read (`op` "read") or written ("write") by a content store."""
    if _on and count:
        (f.content_reads if op == "read" else f.content_writes).labels(store).inc(count)


def integrity_failure(store: str) -> None:
    if _on:
        f.content_integrity.labels(store).inc()


# ------------------------------------------------------------------ pins


def pins(by_provider_state: Mapping[tuple[str, str], int], providers: Iterable[str], states: Iterable[str]) -> None:
    """Pins per (provider, state); every state of every provider is set (0 when none), so a provider
    whose failed pins were pinned again reads 0 failed, not its last count."""
    if _on:
        names = set(providers) | {provider for provider, _ in by_provider_state}
        for provider in names:
            for state in states:
                f.pins.labels(provider, state).set(by_provider_state.get((provider, state), 0))


# ------------------------------------------------------------------ loop heartbeats

_beats: dict[str, float] = {}
_beat_lock = threading.Lock()


def heartbeat(loop: str) -> None:
    """The loop is alive; written at most once a second per loop (a busy loop beats often)."""
    if not _on:
        return
    now = time.time()
    with _beat_lock:
        if now - _beats.get(loop, 0.0) < 1.0:
            return
        _beats[loop] = now
    f.loop_heartbeat.labels(loop).set(now)
