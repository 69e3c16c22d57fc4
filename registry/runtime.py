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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from sqlalchemy import Engine
from web3 import Web3

from registry import redaction
from registry.auth.vault import server_key as load_server_key
from registry.chain import artifacts
from registry.chain.anvil import Anvil
from registry.chain.client import TwinmarkChain
from registry.chain.deploy import ensure_deployed, find_deployment_block
from registry.chain.node import HeadWatcher, connect
from registry.chain.reads import ChainReader
from registry.chain.reverts import RevertDecoder
from registry.chain.sender import TxSender
from registry.db.engine import make_engine, migrate, session_scope
from registry.errors import TwinmarkError
from registry.indexer.service import Indexer
from registry.ipfs.gateway_client import GatewayStore
from registry.ipfs.store import ContentStore, KuboStore, LocalBlockStore
from registry.jobs.worker import MintWorker
from registry.settings import ANVIL_DEV_KEY, Settings
from registry.verify.service import Verifier
from registry.webhooks.sender import WebhookSender
from registry.webhooks.service import seal_stored_secrets

log = logging.getLogger(__name__)


class ConfigurationError(TwinmarkError):
    code, status, title = "configuration", 500, "Service misconfigured"


def _account(key: SecretStr | None, keystore: Path | None, password: SecretStr | None) -> LocalAccount | None:
    if key is not None:
        account: LocalAccount = Account.from_key(key.get_secret_value())
        return account
    if keystore is not None:
        secret = password.get_secret_value() if password else ""
        account = Account.from_key(Account.decrypt(json.loads(keystore.read_text()), secret))
        return account
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
        except Exception:
            log.exception("%s stopped unexpectedly; restarting it", name)
        if not stop.is_set():
            log.warning("%s exited; restarting it", name)
            stop.wait(1.0)


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
    anvil: Anvil | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Settings, *, with_worker: bool | None = None, with_indexer: bool | None = None) -> Runtime:
        redaction.protect(settings)
        redaction.install_log_scrubbing()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        anvil = None
        rpc = settings.chain_rpc_url
        if rpc is None:
            # Embedded chain: state dumped to disk every few seconds and on exit, so a restart keeps it.
            anvil = Anvil(
                port=settings.anvil_port,
                state_path=settings.data_dir / "anvil-state.json",
                extra_args=("--state-interval", "2"),
            )
            rpc = anvil.start()
        try:
            w3 = connect(rpc, timeout=30)
            chain_id = int(w3.eth.chain_id)
            if settings.chain_id is not None and settings.chain_id != chain_id:
                raise ConfigurationError(f"node reports chain id {chain_id}, settings say {settings.chain_id}")
            decoder = RevertDecoder(artifacts.load(n).abi for n in ("TwinmarkRegistry", "TwinmarkCollection"))
            fee_cap, stuck = settings.max_fee_wei, settings.tx_stuck_seconds
            signer = load_signer(settings, embedded=anvil is not None)
            sender = TxSender(w3, signer, decoder, max_fee=fee_cap, stuck_seconds=stuck)
            operator_account = load_operator(settings)
            operator = (
                TxSender(w3, operator_account, decoder, max_fee=fee_cap, stuck_seconds=stuck)
                if operator_account is not None
                else sender
            )
            deployment = ensure_deployed(
                w3,
                sender,
                settings.data_dir / f"deployment-{chain_id}.json",
                settings.registry_address,
                owner=operator.address,
                configured_block=settings.registry_deployed_block,
            )
            chain = TwinmarkChain(
                w3,
                sender,
                deployment.registry,
                operator=operator,
                relay_gas_cap=settings.relay_gas_cap,
                relay_wait=settings.relay_wait_seconds,
                from_block=deployment.block,
                log_span=settings.log_span,
            )
            store: ContentStore = (
                KuboStore(settings.ipfs_rpc_url)
                if settings.ipfs_rpc_url
                else LocalBlockStore(settings.data_dir / "blocks")
            )
            head = HeadWatcher(w3)
            chain.on_mined(head.observe)
            token = operator_token(settings)
            redaction.register(token)
            key = load_server_key(settings)
            redaction.register(key)
            engine = make_engine(settings.resolved_database_url)
            migrate(engine)
            with session_scope(engine) as s:
                seal_stored_secrets(s, key)
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
                verifier=Verifier(chain, store, head, engine, gateway_base=settings.gateway_base),
                operator_token=token,
                server_key=key,
                anvil=anvil,
            )
        except BaseException:
            if anvil is not None:
                anvil.stop()
            raise
        runtime._spawn(runtime._tend_transactions, "tx-tender")
        if settings.worker_in_process if with_worker is None else with_worker:
            runtime._spawn(runtime.worker.run, "mint-worker")
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

    def loops(self) -> dict[str, float]:
        """Seconds since each background loop running here last showed life."""
        leases = {
            "mint-worker": self.worker.lease,
            "indexer": self.indexer.lease,
            "webhook-sender": self.webhooks.lease,
        }
        now = time.monotonic()
        return {t.name: now - leases[t.name].beat for t in self._threads if t.name in leases}

    def stop(self) -> None:
        self._stop.set()
        self.worker.wake()
        self.indexer.wake()
        for thread in self._threads:
            thread.join(timeout=10)
        self.head.stop()
        self.engine.dispose()
        if self.anvil is not None:
            self.anvil.stop()

    @property
    def deployment_file(self) -> Path:
        return self.settings.data_dir / f"deployment-{self.chain.chain_id}.json"


class _LiveHead:
    """The chain head, read when asked (a standalone verifier runs once, no watcher thread)."""

    def __init__(self, reader: ChainReader) -> None:
        self._reader = reader

    @property
    def block(self) -> int:
        return self._reader.block_number()


def standalone_verifier(rpc_url: str, registry: str, gateway: str, *, from_block: int | None = None) -> Verifier:
    """A verifier that trusts nothing of this service: the chain through `rpc_url`, content from any
    trustless gateway (every block hashed here), no database (the history comes from the chain)."""
    w3 = connect(rpc_url)
    if not w3.eth.get_code(Web3.to_checksum_address(registry)):
        raise ConfigurationError(f"no contract at {registry} on {rpc_url}")
    start = from_block if from_block is not None else find_deployment_block(w3, registry)
    reader = ChainReader(w3, registry, from_block=start)
    store = GatewayStore(gateway)
    return Verifier(reader, store, _LiveHead(reader), gateway_base=store.prefix)
