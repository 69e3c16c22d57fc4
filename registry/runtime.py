"""The composition root: wires settings into running parts (chain, embedded Anvil or a URL, signer,
contracts, content store, database, head watcher, verifier, mint worker, indexer, webhook sender)
and runs the background loops. The API and the CLI both start here; nothing in `registry` imports it."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select
from web3 import Web3

from registry import redaction
from registry.alerts import retention as alert_retention
from registry.alerts.service import AlertEngine
from registry.alerts.worker import AlertWorker
from registry.auth.vault import server_key as load_server_key
from registry.chain import artifacts
from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain
from registry.chain.deploy import ensure_deployed
from registry.chain.node import HeadWatcher, NodeProvider, connect
from registry.chain.owner_accounts import probe_p256
from registry.chain.reverts import RevertDecoder
from registry.chain.sender import TxSender
from registry.db.engine import make_engine, migrate, session_scope
from registry.db.lease import Held, Lease
from registry.db.outage import CHAIN, DATABASE, dependency, reason
from registry.errors import ChainUnavailable, ConfigurationError, DatabaseUnavailable, TwinmarkError
from registry.indexer.service import Indexer
from registry.ipfs.store import ContentStore, FileBlockStore, KuboStore, LocalBlockStore
from registry.jobs.worker import MintWorker
from registry.metrics import exposition, tracing
from registry.metrics import record as metrics
from registry.monitoring.service import Sampler
from registry.pinning.pinner import Pinner
from registry.presets import chain_id_mismatch
from registry.privileges import retention as privilege_retention
from registry.scans import service as scans
from registry.scans.geo import Locator
from registry.scans.recorder import ScanRecorder
from registry.settings import ANVIL_DEV_KEY, Settings
from registry.verify.service import Verifier
from registry.webhooks.sender import WebhookSender
from registry.webhooks.service import seal_stored_secrets

log = logging.getLogger(__name__)


def _account(key: SecretStr | None, keystore: Path | None, password: SecretStr | None) -> LocalAccount | None:
    try:
        if key is not None:
            account: LocalAccount = Account.from_key(key.get_secret_value())
            return account
        if keystore is not None:
            secret = password.get_secret_value() if password else ""
            account = Account.from_key(Account.decrypt(json.loads(keystore.read_text()), secret))
            return account
    except (ValueError, TypeError, KeyError, OSError) as exc:  # the message may quote the key: its class only
        what = "key" if key is not None else f"keystore {keystore}"
        raise ConfigurationError(f"unusable {what} ({type(exc).__name__})") from None
    return None


def load_operator(settings: Settings) -> LocalAccount | None:
    """The registry owner's key, when it is not the signer's (an encrypted keystore is the way to keep
    it: it is used only for operator actions and can live off the hot path)."""
    return _account(settings.operator_key, settings.operator_keystore, settings.operator_password)


def load_signer(settings: Settings, *, embedded: bool) -> LocalAccount:
    """The service's signer: a key from the environment, an encrypted keystore, or (embedded only) Anvil's."""
    account = _account(settings.signer_key, settings.signer_keystore, settings.signer_password)
    if account is not None:
        return account
    if embedded:
        dev: LocalAccount = Account.from_key(ANVIL_DEV_KEY)
        return dev
    raise ConfigurationError("set TWINMARK_SIGNER_KEY or TWINMARK_SIGNER_KEYSTORE for a non-embedded chain")


def load_lanes(settings: Settings) -> list[LocalAccount]:
    """The signer lanes' keys beside the signer (`signer_lane_keys`, `signer_lane_keystores`)."""
    keys = [_account(key, None, None) for key in settings.signer_lane_keys]
    keys += [_account(None, path, settings.signer_password) for path in settings.signer_lane_keystores]
    return [k for k in keys if k is not None]


def operator_token(settings: Settings) -> str:
    """The operator token: configured, or generated once and kept (mode 0600) in the data dir."""
    if settings.operator_token is not None:
        return settings.operator_token.get_secret_value()
    path = settings.data_dir / "operator-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def supervise(target: Callable[[threading.Event], None], stop: threading.Event, name: str) -> None:
    """Runs a background loop until `stop`, restarting it (after a pause) whenever it returns or raises."""
    while not stop.is_set():
        try:
            target(stop)
        except Exception as exc:
            if dependency(exc) is None:  # a bug: its traceback
                log.exception("%s stopped unexpectedly; restarting it", name)
            else:
                log.warning("%s stopped: %s unreachable (%s); restarting it", name, dependency(exc), reason(exc))
        if not stop.is_set():
            log.warning("%s exited; restarting it", name)
            stop.wait(1.0)


T = TypeVar("T")


def wait_for(what: str, attempt: Callable[[], T], limit: float) -> T:
    """`attempt()`, tried again while it fails because `what` (the chain node, the database) is away:
    capped exponential backoff, one line when the wait starts and one when it ends, at most `limit`
    seconds (0: as long as it takes; a signal still ends the wait). Other failures raise at once."""
    started = time.monotonic()
    delay, failures = 0.5, 0
    while True:
        try:
            result = attempt()
        except Exception as exc:
            if dependency(exc) != what or isinstance(exc, ConfigurationError):
                raise
            failures += 1
            waited = time.monotonic() - started
            if failures == 1:
                bound = f", for at most {limit:g} s" if limit else ""
                log.warning("waiting for the %s: %s (retrying with backoff%s)", what, reason(exc), bound)
            if limit and waited + delay > limit:
                error = DatabaseUnavailable if what == DATABASE else ChainUnavailable
                raise error(f"the {what} stayed unreachable for {waited:.0f} s at start ({reason(exc)})") from None
            time.sleep(delay)  # interruptible: SIGINT/SIGTERM end the wait
            delay = min(delay * 2, 15.0)
            continue
        if failures:
            log.warning("%s reached after %.1f s (%d failed attempts)", what, time.monotonic() - started, failures)
        return result


# Whose custom errors a refusal may carry: the twins' contracts and the passkey owner accounts'.
CONTRACTS_WITH_ERRORS = (
    "TwinmarkRegistry",
    "TwinmarkCollection",
    "TwinmarkPasskeyAccount",
    "TwinmarkAccountFactory",
    "TwinmarkRelayHelper",
)


def _reach_chain(
    settings: Settings,
    w3: Web3,
    signer: LocalAccount,
    operator_account: LocalAccount | None,
    lane_accounts: Sequence[LocalAccount] = (),
) -> tuple[TwinmarkChain, HeadWatcher]:
    """Everything of start-up that asks the chain node (tried again as a whole while it is away)."""
    chain_id = int(w3.eth.chain_id)
    if settings.chain_id is not None and settings.chain_id != chain_id:
        embedded = settings.chain_rpc_url is None
        raise ConfigurationError(chain_id_mismatch(settings.chain, settings.chain_id, chain_id, embedded=embedded))
    decoder = RevertDecoder(artifacts.load(n).abi for n in CONTRACTS_WITH_ERRORS)
    fee_cap, stuck = settings.max_fee_wei, settings.tx_stuck_seconds
    sender = TxSender(w3, signer, decoder, max_fee=fee_cap, stuck_seconds=stuck)
    operator = (
        TxSender(w3, operator_account, decoder, max_fee=fee_cap, stuck_seconds=stuck)
        if operator_account is not None
        else sender
    )
    try:
        deployment = ensure_deployed(
            w3,
            sender,
            settings.data_dir / f"deployment-{chain_id}.json",
            settings.registry_address,
            owner=operator.address,
            configured_block=settings.registry_deployed_block,
            owner_accounts=settings.passkey_accounts,
        )
    except ChainUnavailable as exc:
        if exc.detail.startswith("no contract at"):  # the node answered: the address is wrong
            raise ConfigurationError(exc.detail) from None
        raise
    chain = TwinmarkChain(
        w3,
        sender,
        deployment.registry,
        operator=operator,
        relay_gas_cap=settings.relay_gas_cap,
        relay_wait=settings.relay_wait_seconds,
        from_block=deployment.block,
        log_span=settings.log_span,
        owners=deployment.owners,
        p256_native=probe_p256(w3),
        passkey_relay_gas_cap=settings.passkey_relay_gas_cap,
        lanes=[TxSender(w3, a, decoder, max_fee=fee_cap, stuck_seconds=stuck) for a in lane_accounts],
        lane_max_in_flight=settings.lane_max_in_flight or settings.worker_max_in_flight,
    )
    if deployment.owners is not None:
        path = "native (ERC-1271 path)" if chain.p256_native else "in Solidity (executeBySig path)"
        log.info("passkey owner accounts: factory %s, P-256 %s", deployment.owners.factory, path)
    head = HeadWatcher(w3)
    chain.on_mined(head.observe)
    return chain, head


# A server that answers but refuses us: the configuration is wrong, waiting would not help. (The
# driver gives no SQLSTATE for connection refusals, only the server's message.)
_REFUSALS = ("does not exist", "password authentication failed", "no pg_hba.conf entry", "authentication failed")


def content_store(settings: Settings) -> ContentStore:
    """Kubo when configured, else the local block store in the layout the settings name."""
    if settings.ipfs_rpc_url:
        return KuboStore(settings.ipfs_rpc_url)
    root = settings.data_dir / "blocks"
    if settings.block_store_layout == "files":
        return FileBlockStore(root)
    store = LocalBlockStore(root)
    if store.legacy.holds_any():
        log.warning("the block store %s still holds block files: `twinmark blocks migrate` moves them", root)
    return store


def _prepare_database(engine: Engine, key: str) -> None:
    """Everything of start-up that asks the database (tried again as a whole while it is away)."""
    try:
        migrate(engine)
        with session_scope(engine) as s:
            seal_stored_secrets(s, key)
    except OperationalError as exc:
        refusal = next((r for r in _REFUSALS if r in str(exc.orig)), None)
        if refusal is None:
            raise
        raise ConfigurationError(
            f"the database refused the connection ({refusal}): check TWINMARK_DATABASE_URL"
        ) from None


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
            chain, head = wait_for(CHAIN, lambda: _reach_chain(settings, w3, signer, operator, lanes), limit)
            store = content_store(settings)
            token = operator_token(settings)
            redaction.register(token)
            key = load_server_key(settings)
            redaction.register(key)
            engine = make_engine(settings.resolved_database_url)
            wait_for(DATABASE, lambda: _prepare_database(engine, key), limit)
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
        recorded, or released) and the process (host:pid) holding it, read from the database."""
        names: dict[str, Held] = {
            "mint-worker": self.worker.lease,
            "indexer": self.indexer.lease,
            "webhook-sender": self.webhooks.lease,
        }
        if self.pinner is not None:
            names["pinner"] = self.pinner.lease
        with session_scope(self.engine) as s:
            rows = s.exec(select(Lease).where(col(Lease.name).in_([h.name for h in names.values()]))).all()
        by_name = {r.name: r for r in rows}
        now = datetime.now(UTC)
        beats: dict[str, tuple[float | None, str | None]] = {}
        for loop, holder in names.items():
            row = by_name.get(holder.name)
            if row is None or row.beat_at is None:
                beats[loop] = (None, None)
                continue
            beat = row.beat_at if row.beat_at.tzinfo else row.beat_at.replace(tzinfo=UTC)
            beats[loop] = (max(0.0, (now - beat).total_seconds()), row.process)
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
