"""Every metric family Twinmark exports, prefixed `twinmark_`, named after the peers an operator
knows where they name the same thing: the instrumentator's `http_requests_total` and
`http_request_duration_seconds` (method, route template, status class), thirdweb Engine's
transactions by state and `engine_nonces{nonce_type}`, OpenZeppelin Relayer's
`transaction_processing_seconds{stage}`, Ponder's `ponder_sync_block` and reorg counter, graph-node's
`ethereum_chain_head_number` and `eth_rpc_request_duration`.

Several API processes share counters through `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's
multiprocess mode, chosen when the library is imported). Gauges say how they combine across
processes: facts sampled from the database or the node by one process are `mostrecent`; a nonce
per process is `livemax` (the most advanced sender; the drift alert wants the worst one)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds: a warm verification is well under a millisecond, a mint a few seconds.
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

# ------------------------------------------------------------------ HTTP (api/metrics.py records)
http_requests = Counter(
    "twinmark_http_requests_total",
    "HTTP requests answered, by method, route template (handler) and status class (2xx..5xx).",
    ("method", "handler", "status"),
)
http_duration = Histogram(
    "twinmark_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ("method", "handler"),
    buckets=FAST_BUCKETS,
)

# ------------------------------------------------------------------ the signer's transactions
transactions = Counter(
    "twinmark_transactions_total",
    "The signer's transactions by state reached: queued, sent, mined, replaced, dropped (sent again).",
    ("chain_id", "signer", "state"),
)
transaction_seconds = Histogram(
    "twinmark_transaction_processing_seconds",
    "Time between a transaction's stages: queued_to_sent, sent_to_mined, queued_to_mined.",
    ("chain_id", "stage"),
    buckets=_SLOW,
)
nonces = Gauge(
    "twinmark_nonces",
    "The signer's next nonce: onchain (the node's pending count) and local (the sender's).",
    ("chain_id", "signer", "nonce_type"),
    multiprocess_mode="livemax",
)
nonce_drift = Gauge(
    "twinmark_nonce_drift",
    "Local next nonce minus the node's pending count: above 0 the sender uses nonces the node lacks.",
    ("chain_id", "signer"),
    multiprocess_mode="livemax",
)

# ------------------------------------------------------------------ the node and the indexer
chain_head = Gauge(
    "twinmark_chain_head_block", "The node's latest block number.", ("chain_id",), multiprocess_mode="mostrecent"
)
indexer_head = Gauge(
    "twinmark_indexer_head_block",
    "The last block the indexer has ingested.",
    ("chain_id",),
    multiprocess_mode="mostrecent",
)
reorgs = Counter("twinmark_indexer_reorgs_total", "Reorganisations the indexer rolled back.", ("chain_id",))
rpc_requests = Counter("twinmark_rpc_requests_total", "JSON-RPC requests to the node, by method.", ("method",))
rpc_errors = Counter(
    "twinmark_rpc_errors_total",
    "JSON-RPC requests that failed, by method and kind (transport: unreachable after retries; rpc: an error answer).",
    ("method", "kind"),
)
rpc_duration = Histogram(
    "twinmark_rpc_request_duration_seconds",
    "Time of a JSON-RPC request, retries included.",
    ("method",),
    buckets=FAST_BUCKETS,
)

# ------------------------------------------------------------------ webhooks
webhook_deliveries = Counter(
    "twinmark_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, failed (retried later), gave_up.",
    ("outcome",),
)
webhook_seconds = Histogram(
    "twinmark_webhook_delivery_seconds", "Time of one webhook delivery attempt.", buckets=FAST_BUCKETS
)
outbox_backlog = Gauge(
    "twinmark_webhook_outbox_backlog", "Webhook deliveries not yet delivered.", multiprocess_mode="mostrecent"
)
outbox_oldest = Gauge(
    "twinmark_webhook_outbox_oldest_age_seconds",
    "Age of the oldest undelivered webhook delivery (0: none).",
    multiprocess_mode="mostrecent",
)

# ------------------------------------------------------------------ scans, mint jobs, content, pins
scans_ingested = Counter("twinmark_scans_ingested_total", "Scans written to the scan log.")
scans_dropped = Counter("twinmark_scans_dropped_total", "Scans dropped before the scan log, by reason.", ("reason",))
scans_capped = Counter(
    "twinmark_scans_capped_total", "Scans answered but not recorded: one network's repeats of one twin past the cap."
)
mint_jobs = Gauge(
    "twinmark_mint_jobs", "Open mint jobs by state (accepted, running).", ("state",), multiprocess_mode="mostrecent"
)
mint_jobs_finished = Counter("twinmark_mint_jobs_finished_total", "Mint jobs finished, by state.", ("state",))
content_reads = Counter("twinmark_content_reads_total", "Blocks read from the content store.", ("store",))
content_writes = Counter("twinmark_content_writes_total", "Blocks written to the content store.", ("store",))
content_integrity = Counter(
    "twinmark_content_integrity_failures_total",
    "Blocks whose bytes did not hash to their CID.",
    ("store",),
)
pins = Gauge(
    "twinmark_pins", "Pins by remote pinning provider and state.", ("provider", "state"), multiprocess_mode="mostrecent"
)

# ------------------------------------------------------------------ background loops
loop_heartbeat = Gauge(
    "twinmark_loop_heartbeat_timestamp_seconds",
    "Unix time of each background loop's last heartbeat (a lease renewal or a pass).",
    ("loop",),
    multiprocess_mode="max",
)
