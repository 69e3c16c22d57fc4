"""The one settings object. Production is configuration only: every field is an environment
variable `TWINMARK_<FIELD>` (or a line in `.env`). Unset chain, IPFS and database URLs mean the
embedded local stack under `data_dir`."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.presets import PRESET_FIELDS, ChainName, preset

# Anvil's first development key (public knowledge): only ever used for the embedded local chain.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class PinProvider(BaseModel):
    """A remote pinning service speaking the IPFS Pinning Service API (Pinata's PSA endpoint, Filebase,
    an IPFS Cluster's pinsvc, ...). The access token is a secret: scrubbed from logs and answers."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    endpoint: str  # the API's base URL, without /pins
    token: SecretStr


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWINMARK_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # base of GS1 Digital Links; defaults to http://host:port
    # Base of the https gateway URLs given next to ipfs:// ones (and used by the page's in-browser
    # check); unset: this service's own gateway, {public_url}/ipfs.
    gateway_url: str | None = None
    # The JSON-RPC URL the verification page's script reads the chain through (a browser must reach
    # it, with CORS); unset: chain_rpc_url, or the embedded Anvil.
    public_rpc_url: str | None = None

    chain_rpc_url: str | None = None  # unset: start a local Anvil keeping its state in data_dir
    # A public chain by name (registry/presets.py): fills in chain id, confirmations, log span, fee cap
    # and multicall address wherever they are not set explicitly.
    chain: ChainName | None = None
    chain_id: int | None = None  # checked against the node when set
    multicall_address: str | None = None  # Multicall3 on this chain (from the preset unless set)
    anvil_port: int = 8545
    confirmations: int = 0  # blocks on top of a mint before it is recorded
    signer_key: SecretStr | None = None  # hex private key of the service's signer
    signer_keystore: Path | None = None  # or an encrypted keystore file (eth-account)
    signer_password: SecretStr | None = None
    # Signer lanes: more minter keys beside the signer, each with its own nonces (JSON lists in the
    # environment; keystores open with signer_password). Every lane needs the minter role of each
    # collection it mints in; the signer stays the custodian of new twins whichever lane mints them.
    signer_lane_keys: list[SecretStr] = []
    signer_lane_keystores: list[Path] = []
    lane_max_in_flight: int | None = Field(default=None, ge=1)  # per lane; unset: worker_max_in_flight
    registry_address: str | None = None  # unset: deploy on first start and remember in data_dir
    registry_deployed_block: int | None = None  # with registry_address; unset: found by binary search
    log_span: int = 1_000  # blocks per eth_getLogs (hosted endpoints refuse more); halved on refusal
    # No transaction offers more than this per gas (maxFeePerGas = 2 * base fee + tip, capped); while
    # the base fee alone is above it, nothing is broadcast: the worker waits, relays answer 503.
    max_fee_gwei: float = Field(default=200.0, gt=0)
    tx_stuck_seconds: float = Field(default=60.0, gt=0)  # pending longer: replaced (same nonce, fees +10% or more)
    # The registry owner (operator: registers brands, opens compromise windows). Unset: the signer.
    operator_key: SecretStr | None = None
    operator_keystore: Path | None = None
    operator_password: SecretStr | None = None

    ipfs_rpc_url: str | None = None  # Kubo RPC API; unset: local block store in data_dir
    # Remote pinning services (JSON list of {"name", "endpoint", "token"}): every CID a minted twin
    # needs is pinned on each, in the background; a twin is durable once pinned on `pin_replicas` of
    # them (unset: 1). Endpoints must be public addresses unless `pin_allow_private_endpoints`.
    pin_providers: list[PinProvider] = Field(default_factory=list)
    pin_replicas: int | None = Field(default=None, ge=1)
    pin_allow_private_endpoints: bool = False
    pin_origins: str = ""  # comma-separated multiaddrs (ending /p2p/<peer id>) of nodes holding the content
    pin_poll_seconds: float = Field(default=10.0, gt=0)  # a queued or pinning pin is asked again after this
    pin_reconcile_seconds: float = Field(default=600.0, gt=0)  # a pinned pin is checked again after this
    pin_timeout_seconds: float = Field(default=10.0, gt=0)
    pin_backoff_seconds: float = Field(default=2.0, gt=0)  # first retry delay; doubles to pin_backoff_max_seconds
    pin_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # The local block store's layout: "sqlite" (blocks as rows of data_dir/blocks/blocks.sqlite) or
    # "files" (the first layout, a file per block; kept as a benchmark's baseline).
    block_store_layout: Literal["sqlite", "files"] = "sqlite"
    database_url: str | None = None  # e.g. postgresql+psycopg://...; unset: SQLite in data_dir

    operator_token: SecretStr | None = None  # unset: generated once and kept in data_dir
    secret_key: SecretStr | None = None  # encrypts secrets at rest (webhook secrets); unset: data_dir/server-key
    max_asset_bytes: int = 25 * 1024 * 1024
    # Game-ready ceilings of a GLB (as the glTF Validator counts: per mesh primitive): a hero asset of
    # a AAA game is 100-300k triangles, so 500k leaves a studio room and refuses scans and sculpts;
    # at most three vertices a triangle (no index buffer).
    gltf_max_triangles: int = Field(default=500_000, ge=1)
    gltf_max_vertices: int = Field(default=1_500_000, ge=1)
    # glTF Validator workers (Node processes) per API process, validations one brand may run at once,
    # and the per-file limit after which the worker is killed (a 30 MB model takes ~0.5 s).
    gltf_validator_workers: int = Field(default=2, ge=1, le=16)
    gltf_validations_per_brand: int = Field(default=1, ge=1)
    gltf_validator_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_twins_per_request: int = 50_000
    chunk_size: int = 4096  # twins per on-chain batch (at most 4,096)
    worker_in_process: bool = True  # run the mint worker inside the API process
    worker_poll_seconds: float = 0.5  # idle polling; jobs submitted in-process wake the worker at once
    worker_max_in_flight: int = 32  # mint transactions broadcast but not yet mined
    # Small requests of one collection and twin kind are minted together in one batch transaction: the
    # oldest waits at most this long for company; a batch goes at once when it reaches the cap (or the
    # chunk size, if smaller), and full chunks never wait. A window of 0 still merges what is waiting.
    coalesce_window_seconds: float = Field(default=0.25, ge=0)
    coalesce_max_twins: int = Field(default=500, ge=1, le=4096)
    indexer_in_process: bool = True  # run the chain indexer and webhook sender inside the API process
    indexer_poll_seconds: float = 0.5
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 15
    webhook_backoff_seconds: float = 1.0  # first retry delay; doubles each attempt, with jitter
    # Off: webhook URLs must resolve to public addresses only (no loopback, private, link-local, ...).
    # On: the operator's explicit choice, for receivers inside its own network.
    webhook_allow_private_targets: bool = False
    worker_lease_seconds: float = 10.0  # a crashed worker's jobs are taken over after this
    stream_max_connections: int = 500  # open event streams per API process
    stream_max_per_client: int = 4
    webhook_max_in_flight_per_subscription: int = 4  # one slow receiver cannot take every sender thread
    delivery_retention_days: float = 30.0  # delivered/dead outbox rows and their attempts are pruned after this
    # /readyz fails when a background loop (mint worker, indexer, webhook sender), in whichever process
    # runs it, has not beaten for this long; a process just started gives them this long to start.
    loop_stale_seconds: float = Field(default=90.0, gt=0)
    # Prometheus metrics (README "Operating Twinmark"): recorded unless off; `/metrics` answers only a
    # scraper presenting this bearer token (unset: 404), since the counts are the business's volumes.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    metrics_sample_seconds: float = Field(default=15.0, gt=0)  # gauges read from the database and node
    # A chain node or database away at start is waited for (backoff 0.5 s doubling to 15 s, one log line
    # when the wait starts and one when it ends) at most this long; 0: until it is back or a signal comes.
    startup_wait_seconds: float = Field(default=0.0, ge=0)
    relay_gas_cap: int = 500_000  # a relayed call whose simulation needs more gas is refused, never sent
    # A request relaying a call waits this long for its receipt; not mined by then: 202 with the
    # transaction hash and `"state": "pending"` (followed at GET /v1/transactions/{hash}).
    relay_wait_seconds: float = Field(default=10.0, ge=0)
    relay_limit_per_client: int = 120  # relayed owner actions per client address per hour
    # `?source=chain` provenance per client per minute: each scans the chain from the deployment block in
    # spans, so a crowd of them would spend the RPC provider's quota.
    chain_provenance_per_minute: int = 30
    relay_limit_per_owner: int = 60  # ... per owner (signer) address per hour
    relay_limit_per_token: int = 20  # ... per twin per hour
    # Sign-In with Ethereum (players): the authority (host[:port]) a message must name; unset: the host
    # of base_url. Nonces live briefly and sign in once; a session lasts at most this long (and never
    # past the message's own Expiration Time).
    siwe_domain: str | None = None
    siwe_nonce_seconds: float = Field(default=300.0, gt=0)
    siwe_session_seconds: float = Field(default=3600.0, gt=0)
    # Contract-wallet checks (ERC-1271, EIP-6492) run code the signer chose in eth_call: each call gets
    # at most this much gas (enough to deploy a counterfactual wallet and ask it), not the node's cap.
    siwe_call_gas: int = Field(default=1_000_000, ge=100_000)
    # Refused signatures a nonce survives before it is burnt (a refusal does not spend it otherwise),
    # and refused sign-ins per client per minute before it is answered 429.
    siwe_failures_per_nonce: int = Field(default=5, ge=1)
    siwe_failures_per_minute: int = Field(default=20, ge=1)
    # Owner listings with `fresh=true` per caller (signed-in player, else client address) per minute:
    # each re-reads the page at the chain head (a report per item), so a crowd would spend the node's quota.
    fresh_listings_per_minute: int = Field(default=60, ge=1)
    # An NFC tap's verdict stays on the page (reload, language switch) this long, in the browser that
    # made the tap only; after it, the page asks for a new tap.
    tap_ticket_seconds: float = Field(default=60.0, gt=0)
    # Twins whose chain facts, content checks and answers the verifier keeps in memory (per API
    # process): the API's memory grows with distinct twins verified until these are full.
    verify_cache_entries: int = Field(default=50_000, ge=100)
    # Ceilings for all clients together beside the per-client limits above (client addresses are many,
    # and only as good as the proxy in front), counted per API process.
    fresh_listings_ceiling_per_minute: int = Field(default=600, ge=1)
    chain_provenance_ceiling_per_minute: int = Field(default=300, ge=1)
    siwe_nonces_ceiling_per_minute: int = Field(default=3_000, ge=1)  # anonymous ones; partners have their own
    siwe_failures_ceiling_per_minute: int = Field(default=600, ge=1)  # refused anonymous sign-ins
    relay_ceiling_per_hour: int = Field(default=3_000, ge=1)  # relays from all clients together

    # The proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDR networks); empty:
    # none, the peer address is the client. Else the header is walked from the right: the client is the
    # first address that is not a trusted proxy (api/server.py).
    trusted_proxies: str = ""
    # `twinmark serve`: open connections before new requests are answered 503, the listen backlog,
    # how long a request head (line and headers) may take, and how large it may be.
    max_connections: int = Field(default=1_000, ge=1)
    # Open connections one client (an IPv4 address, an IPv6 /64; trusted proxies exempt) may hold: a
    # request body has no deadline here, so without it one client could hold all `max_connections`.
    max_connections_per_client: int = Field(default=100, ge=1)
    listen_backlog: int = Field(default=2_048, ge=1)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)

    # The scan log (registry/scans): resolver hits, page views, NFC taps and verifications, queued in
    # memory (at most `scan_queue`; a full queue drops scans and counts them) and written in batches.
    # Off: nothing recorded and no session cookie for QR visits. Raw scans are kept this many days,
    # daily aggregates for ever. A MaxMind-format file (GeoLite2/GeoIP2 City, DB-IP, IPinfo) gives
    # region and city coordinates; unset: the country only, from the offline RIR data of `iptocc`.
    scans_enabled: bool = True
    scan_queue: int = Field(default=10_000, ge=1)
    scan_batch: int = Field(default=500, ge=1, le=2_000)
    scan_retention_days: int = Field(default=100, ge=1)
    # One network's (/24, /48) scans of one twin by one channel recorded per minute; more are answered
    # as usual but not recorded (counted in twinmark_scans_capped_total). 0: no cap.
    scan_record_per_minute: int = Field(default=120, ge=0)
    # Resolved alerts (and their copies of the triggering scans) are deleted this long after they were
    # resolved; open ones are kept. Two years: the EU's legal guarantee on consumer goods, the span in
    # which a sale is most often disputed. Keep it above the scan retention (a resolution forgotten
    # before its scans are gone lets them raise the alert again).
    alert_retention_days: int = Field(default=730, ge=1)
    # Who redeemed a privilege (owner and actor addresses, the signed receipt) is forgotten this long
    # after the receipt expired and its last use was reported; the redemption itself stays. Two years,
    # as alerts: a venue's dispute about a use comes within the guarantee on the goods.
    redemption_retention_days: int = Field(default=730, ge=1)
    geoip_database: Path | None = None
    # The brand console: a staff session ends after this long without a request, and in any case
    # this long after sign-in; an invite link lives this long.
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_session_hours: int = Field(default=12, ge=1, le=24 * 30)
    console_invite_hours: int = Field(default=72, ge=1, le=24 * 30)
    # Passkey owner accounts: the account factory, WebAuthn verifier and relay helper are deployed (once,
    # at the same addresses on every chain, through the CREATE2 deployer) and passkey actions relayed.
    # Off, or on a chain without that deployer: passkey routes answer `passkeys-unsupported`.
    passkey_accounts: bool = True
    # The relay gas cap of passkey-signed actions: where P-256 is verified in Solidity (no precompile),
    # a transfer costs about 360k gas, and the first action (deploying the account too) about 585k.
    passkey_relay_gas_cap: int = Field(default=1_000_000, ge=100_000)
    # The embedded Anvil's hardfork: "prague" (the README's gas figures) or "osaka", which adds the P-256
    # precompile (EIP-7951), so passkey transfers take the cheaper ERC-1271 path.
    anvil_hardfork: Literal["prague", "osaka"] = "prague"
    # Consent the owner signs (registry/consent): a consent lasts this many days from signing (the
    # message's Expiration Time; renewing is signing again); an owner may ask for this many messages
    # to sign per minute (each holds a nonce row until it expires).
    consent_days: int = Field(default=365, ge=1, le=3 * 365)
    consent_messages_per_minute: int = Field(default=30, ge=1)
    # Owners' privileges (registry/privileges): the delegate.xyz v2 registry through which a cold wallet
    # lets a hot one see and redeem its privileges (its canonical address; empty: no delegation), the
    # key that signs receipts (unset: generated into data_dir/receipt-key; never the signer's or the
    # operator's) and how long a receipt stays valid (never past the privilege's end).
    privilege_delegate_registry: str = Field(
        default="0x00000000000000447e69651d841bD8D104Bed493", pattern=r"^(0x[0-9a-fA-F]{40})?$"
    )
    receipt_key: SecretStr | None = None
    receipt_valid_days: int = Field(default=30, ge=1, le=3_650)

    @model_validator(mode="after")
    def _apply_chain_preset(self) -> Settings:
        # Explicit settings (environment, .env, arguments) are in `model_fields_set`: they win.
        if self.chain is not None:
            chosen = preset(self.chain)
            for name in PRESET_FIELDS:
                if name not in self.model_fields_set:
                    setattr(self, name, getattr(chosen, name))
        return self

    @field_validator("multicall_address")
    @classmethod
    def _is_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return value

    @field_validator("pin_providers")
    @classmethod
    def _provider_names_differ(cls, value: list[PinProvider]) -> list[PinProvider]:
        names = [p.name for p in value]
        if len(names) != len(set(names)):
            raise ValueError("each pinning provider needs its own name")
        return value

    @property
    def durable_replicas(self) -> int:
        """Providers a twin's content must be pinned on to count as durable."""
        return self.pin_replicas if self.pin_replicas is not None else 1

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad entry
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "twinmark.db"
        if not path.exists():
            # Created owner-only before SQLite opens it; its WAL and shared-memory files take the same mode.
            with contextlib.suppress(FileExistsError):  # another process starting beside this one made it
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return f"sqlite:///{path.resolve()}"

    @property
    def max_fee_wei(self) -> int:
        return int(self.max_fee_gwei * 10**9)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def gateway_base(self) -> str:
        """`{gateway}/ipfs`: https URLs of content are `{gateway_base}/{cid}`."""
        return (self.gateway_url or f"{self.base_url}/ipfs").rstrip("/")
