"""The composition root: wires settings into running parts (chain, embedded Anvil or a URL, signer,
contracts, content store, database, head watcher, verifier, mint worker, indexer, webhook sender)
and runs the background loops. The API and the CLI both start here; nothing in `registry` imports it.
Its parts: `keys` (the signer, operator and lane keys), `wiring` (the start-up steps that ask the chain
node or the database) and `loops` (restarting loops, waiting for a dependency at start)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select
from web3 import Web3

from registry import redaction
from registry.alerts import retention as alert_retention
from registry.alerts.service import AlertEngine
from registry.alerts.worker import AlertWorker
from registry.auth.vault import server_key as load_server_key
from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain
from registry.chain.node import HeadWatcher, NodeProvider, connect
from registry.consent import retention as consent_retention
from registry.db.engine import make_engine, session_scope
from registry.db.lease import Held, Lease
from registry.db.outage import CHAIN, DATABASE
from registry.errors import TwinmarkError
from registry.indexer.service import Indexer
from registry.ipfs.store import ContentStore, KuboStore
from registry.jobs.claims import WORKER_MEMBER
from registry.jobs.worker import MintWorker
from registry.metrics import exposition, tracing
from registry.metrics import record as metrics
from registry.monitoring.service import Sampler
from registry.pinning.pinner import Pinner
from registry.privileges import retention as privilege_retention
from registry.runtime.keys import load_lanes, load_operator, load_signer, operator_token
from registry.runtime.loops import supervise, wait_for
from registry.runtime.wiring import content_store, prepare_database, reach_chain
from registry.scans import service as scans
from registry.scans.geo import Locator
from registry.scans.recorder import ScanRecorder
from registry.settings import Settings
from registry.verify.service import Verifier
from registry.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    w3: Web3
    chain: TwinmarkChain
    store: ContentStore
    worker: MintWorker
    indexer: Indexer
    webhooks: WebhookSender
    head: HeadWatcher
    verifier: Verifier
    operator_token: str
    server_key: str
    scans: ScanRecorder  # the scan log's queue and writer (registry/scans)
    anvil: Anvil | None = None
    pinner: Pinner | None = None  # with remote pinning services configured; runs beside the mint worker
    started: float = field(default_factory=time.monotonic)  # readiness gives loops this long to start
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Settings, *, with_worker: bool | None = None, with_indexer: bool | None = None) -> Runtime:
        """Wires everything up. A chain node or database away at start is waited for (with backoff, one
        log line when the wait starts and one when it ends, at most `startup_wait_seconds`); a
        configuration error (a wrong chain id, an unusable key) raises `ConfigurationError` at once."""
        redaction.protect(settings)
        redaction.install_log_scrubbing()
        metrics.enable(settings.metrics_enabled)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        limit = settings.startup_wait_seconds
        anvil = None
        rpc = settings.chain_rpc_url
        if rpc is None:
            # Embedded chain: state dumped to disk every few seconds and on exit, so a restart keeps it.
            anvil = Anvil(
                port=settings.anvil_port,
                state_path=settings.data_dir / "anvil-state.json",
                extra_args=("--state-interval", "2"),
                hardfork=settings.anvil_hardfork,
            )
            rpc = anvil.start()
        engine: Engine | None = None
        try:
            # Keys first: a configuration error fails at once, before any wait for the node.
            signer, operator = load_signer(settings, embedded=anvil is not None), load_operator(settings)
            lanes = load_lanes(settings)
            # A quick probe first (5 s, no retry): a node that does not answer at all (a black-holed host)
            # is reported within seconds, not after the provider's full timeouts and retries.
            probe = Web3(NodeProvider(rpc, timeout=5, retries=1))
            wait_for(CHAIN, lambda: probe.eth.chain_id, limit)
            w3 = connect(rpc, timeout=30)
            chain, head = wait_for(CHAIN, lambda: reach_chain(settings, w3, signer, operator, lanes), limit)
            store = content_store(settings)
            token = operator_token(settings)
            redaction.register(token)
            key = load_server_key(settings)
            redaction.register(key)
            engine = make_engine(settings.resolved_database_url)
            wait_for(DATABASE, lambda: prepare_database(engine, key), limit)
            tracing.configure(engine)  # only with OTEL_TRACES_EXPORTER set
            runtime = cls(
                settings=settings,
                engine=engine,
                w3=w3,
                chain=chain,
                store=store,
                worker=MintWorker(engine, chain, store, settings),
                indexer=Indexer(engine, chain, store, settings),
                webhooks=WebhookSender(engine, settings),
                head=head,
                verifier=Verifier(
                    chain,
                    store,
                    head,
                    engine,
                    gateway_base=settings.gateway_base,
                    cache_entries=settings.verify_cache_entries,
                ),
                operator_token=token,
                server_key=key,
                scans=ScanRecorder(
                    engine,
                    size=settings.scan_queue,
                    batch=settings.scan_batch,
                    locator=Locator(settings.geoip_database),
                    enabled=settings.scans_enabled,
                    per_minute=settings.scan_record_per_minute or None,
                ),
                anvil=anvil,
                pinner=(
                    Pinner(engine, settings, discover=store.addresses if isinstance(store, KuboStore) else None)
                    if settings.pin_providers
                    else None
                ),
            )
        except BaseException:
            if engine is not None:
                engine.dispose()
            if anvil is not None:
                anvil.stop()
            raise
        runtime._spawn(runtime._tend_transactions, "tx-tender")
        if settings.metrics_enabled:
            store_kind = "kubo" if settings.ipfs_rpc_url else "local"
            leads, every = runtime.indexer.lease.held, settings.metrics_sample_seconds
            providers = [p.name for p in settings.pin_providers]
            sampler = Sampler(engine, chain, lambda: head.block, leads, every, store_kind, providers)
            runtime._spawn(sampler.run, "metrics-sampler")
        if settings.scans_enabled:
            # The rules run on their own thread, fed each stored batch: the writer never waits for them.
            alerts = AlertWorker(engine, AlertEngine(chain))
            runtime.scans.on_batch(alerts.submit)
            runtime._spawn(alerts.run, "alert-rules")
            runtime._spawn(runtime.scans.run, "scan-writer")
        runtime._spawn(lambda stop: scans.run_retention(engine, settings.scan_retention_days, stop), "scan-retention")
        runtime._spawn(
            lambda stop: alert_retention.run_retention(engine, settings.alert_retention_days, stop), "alert-retention"
        )
        runtime._spawn(
            lambda stop: privilege_retention.run_retention(engine, settings.redemption_retention_days, stop),
            "redemption-retention",
        )
        runtime._spawn(lambda stop: consent_retention.run_retention(engine, stop), "consent-retention")
        if settings.worker_in_process if with_worker is None else with_worker:
            runtime._spawn(runtime.worker.run, "mint-worker")
            if runtime.pinner is not None:
                runtime._spawn(runtime.pinner.run, "pinner")
        if settings.indexer_in_process if with_indexer is None else with_indexer:
            runtime._spawn(runtime.indexer.run, "indexer")
            runtime._spawn(runtime.webhooks.run, "webhook-sender")
        return runtime

    def _tend_transactions(self, stop: threading.Event) -> None:
        """Looks after the signer's transactions that nobody waits for: relayed calls answered as pending
        (202) are sent again if dropped and replaced if stuck, in every process, whether or not a mint
        worker (which tends too) runs here. Idle while nothing is in flight: no node call."""
        while not stop.wait(0.5):
            if not self.chain.transactions_in_flight():
                continue
            try:
                self.chain.tend_transactions()
            except TwinmarkError as exc:  # the node is away: the next round tries again
                log.warning("looking after transactions: %s", exc.detail)

    def run_worker(self) -> None:
        """Runs the mint worker in this thread until interrupted (`twinmark worker`)."""
        self._spawn(self.worker.run, "mint-worker")
        if self.pinner is not None:
            self._spawn(self.pinner.run, "pinner")
        self._wait()

    def run_indexer(self) -> None:
        """Runs the indexer and the webhook sender until interrupted (`twinmark indexer`)."""
        self._spawn(self.webhooks.run, "webhook-sender")
        self._spawn(self.indexer.run, "indexer")
        self._wait()

    def _wait(self) -> None:
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _spawn(self, target: Callable[[threading.Event], None], name: str) -> None:
        thread = threading.Thread(target=supervise, args=(target, self._stop, name), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def heartbeats(self) -> dict[str, tuple[float | None, str | None]]:
        """Each background loop that must run in some process (this one or a standalone `twinmark
        worker` / `twinmark indexer`): seconds since its lease holder's last heartbeat (None: none
        recorded, or released) and the process (host:pid) holding it, read from the database; for the
        mint worker, every live worker process (they run side by side), comma-separated."""
        names: dict[str, Held] = {
            "mint-worker": self.worker.lease,
            "indexer": self.indexer.lease,
            "webhook-sender": self.webhooks.lease,
        }
        if self.pinner is not None:
            names["pinner"] = self.pinner.lease
        with session_scope(self.engine) as s:
            wanted = col(Lease.name).in_([h.name for h in names.values()]) | col(Lease.name).startswith(WORKER_MEMBER)
            rows = s.exec(select(Lease).where(wanted)).all()  # one read: readiness is polled
        by_name = {r.name: r for r in rows}
        members = [r for r in rows if r.name.startswith(WORKER_MEMBER)]
        now = datetime.now(UTC)
        # Several mint workers may run at once: each live one (its member row unexpired) is named.
        workers = sorted({m.process for m in members if m.process and _aware(m.expires_at) > now})
        beats: dict[str, tuple[float | None, str | None]] = {}
        for loop, holder in names.items():
            row = by_name.get(holder.name)
            if row is None or row.beat_at is None:
                beats[loop] = (None, None)
                continue
            process = ", ".join(workers) if loop == "mint-worker" and workers else row.process
            beats[loop] = (max(0.0, (now - _aware(row.beat_at)).total_seconds()), process)
        return beats

    def stop(self) -> None:
        self._stop.set()
        self.worker.wake()
        self.indexer.wake()
        self.webhooks.wake()
        if self.pinner is not None:
            self.pinner.wake()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.pinner is not None:
            self.pinner.close()
        self.head.stop()
        self.scans.locator.close()
        self.engine.dispose()
        exposition.process_exited()
        tracing.shutdown()
        if self.anvil is not None:
            self.anvil.stop()

    @property
    def deployment_file(self) -> Path:
        return self.settings.data_dir / f"deployment-{self.chain.chain_id}.json"
