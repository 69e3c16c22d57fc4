"""Start-up steps that ask a dependency: the chain node (chain id, deployment, senders and lanes, the
head watcher), the database (migrations, sealing stored secrets) and the choice of content store.
Each is tried again as a whole by the composition root while its dependency is away."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from web3 import Web3

from registry.chain import artifacts
from registry.chain.client import TwinmarkChain
from registry.chain.deploy import ensure_deployed
from registry.chain.node import HeadWatcher
from registry.chain.owner_accounts import probe_p256
from registry.chain.reverts import RevertDecoder
from registry.chain.sender import TxSender
from registry.db.engine import migrate, session_scope
from registry.errors import ChainUnavailable, ConfigurationError
from registry.ipfs.store import ContentStore, FileBlockStore, KuboStore, LocalBlockStore
from registry.presets import chain_id_mismatch
from registry.settings import Settings
from registry.webhooks.service import seal_stored_secrets

log = logging.getLogger(__name__)


# Whose custom errors a refusal may carry: the twins' contracts and the passkey owner accounts'.
CONTRACTS_WITH_ERRORS = (
    "TwinmarkRegistry",
    "TwinmarkCollection",
    "TwinmarkPasskeyAccount",
    "TwinmarkAccountFactory",
    "TwinmarkRelayHelper",
)


def reach_chain(
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


def prepare_database(engine: Engine, key: str) -> None:
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
