"""Chain conditions: a JSON-RPC proxy in front of a node (Anvil) that behaves like a hosted provider on
a live chain, set per test.

The proxy (`ChainConditions.url`, a path like hosted ones: `/v2/<key>`) forwards JSON-RPC over HTTP,
single calls and batches, and imposes what `Conditions` says:

- `max_log_span`: an `eth_getLogs` whose `toBlock - fromBlock + 1` exceeds it is refused with a
  JSON-RPC error (-32602 "query exceeds max block range N", as hosted providers answer); tags
  (`latest`, `earliest`, `safe`, ...) and missing bounds are resolved against the node first;
  `max_log_results`: one answering more logs is refused (-32005 "query returned more than N results");
- `latency_s`: added to every HTTP request;
- `fail_rate`: share of HTTP requests answered 503 or 500 (chosen at random);
- `rate_limit`: share answered 429, half of them with `Retry-After: <retry_after_s>`;
- `timeout_rate`: share where the proxy waits `hang_s` and then closes the connection without an
  answer (a client whose timeout is shorter sees a read timeout; a patient one a dropped connection);
- `log_timestamps`: False strips `blockTimestamp` from logs (nodes that do not give it);
- `lost_answer_rate`: share forwarded to the node whose answer is then lost (connection closed): the
  call happened (a transaction was broadcast) but the client cannot know.

Faults are drawn per HTTP request from one seeded RNG (a batch fails or passes as a whole); caps apply
per call, also inside a batch. Helpers act on the node directly, never through the faults:
interval mining, automine, pausing mining, dropping a pending transaction, base-fee spikes, reorgs
of any depth (`anvil_reorg`), mining many empty blocks. `stats()` tells what the proxy did, so a
test can assert the conditions really bit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes

_TAGS = ("latest", "earliest", "pending", "safe", "finalized")
# A dev account of Anvil's default mnemonic (the last of ten) sends the marker transaction that makes
# a reorganised chain differ from the old one; services under test use the first ones.
_MARKER_TO = "0x000000000000000000000000000000000000dEaD"


@dataclass(frozen=True)
class Conditions:
    """What the proxy imposes. Shares are probabilities per HTTP request, in [0, 1]."""

    max_log_span: int | None = None
    max_log_results: int | None = None
    latency_s: float = 0.0
    fail_rate: float = 0.0
    rate_limit: float = 0.0
    retry_after_s: int = 1
    timeout_rate: float = 0.0
    hang_s: float = 2.0
    lost_answer_rate: float = 0.0
    log_timestamps: bool = True  # False: logs without `blockTimestamp`, as many hosted nodes answer
    # Broadcasts (`eth_sendRawTransaction`), as relayers meet them on live nodes:
    nonce_too_high: bool = False  # a nonce above the sender's pending count is refused "nonce too high"
    underpriced_rate: float = 0.0  # share refused "replacement transaction underpriced" (not forwarded)
    hold_sends: bool = False  # held unanswered while set, then refused unforwarded (the sender dies meanwhile)


@dataclass
class Stats:
    """What the proxy did (a snapshot: `ChainConditions.stats()`)."""

    requests: int = 0  # HTTP requests received on the proxy's path
    batches: int = 0  # of which JSON-RPC batches
    calls: Counter[str] = field(default_factory=Counter)  # JSON-RPC calls by method (batch elements too)
    refused_span: int = 0  # eth_getLogs refused for their block span
    refused_results: int = 0  # eth_getLogs refused for their number of results
    served_logs: int = 0  # eth_getLogs answered
    widest_served_span: int = 0
    injected: Counter[str] = field(default_factory=Counter)  # "500", "503", "429", "429+retry-after", "timeout", ...
    # Seconds between a faulted request and the same request body arriving again (a client's retry),
    # by the fault it answered: how long clients waited before retrying.
    retry_gaps: dict[str, list[float]] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        """Injected transport failures of any kind."""
        return sum(self.injected.values())


class LogQueryRefused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChainConditions:
    """A JSON-RPC proxy in front of `upstream` imposing `Conditions` (thread-safe, changeable at any time).

    Use as a context manager (or `start()`/`stop()`); `url` is what the service under test is given."""

    def __init__(
        self,
        upstream: str,
        *,
        path: str = "/v2/chain-conditions-key",
        seed: int = 11,
        conditions: Conditions | None = None,
    ) -> None:
        self.upstream = upstream
        self.path = path
        self._conditions = conditions or Conditions()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._stats = Stats()
        self._faulted: dict[str, tuple[str, float]] = {}  # body digest -> (fault, when)
        self._closing = threading.Event()
        self._http = httpx.Client(timeout=httpx.Timeout(120.0, connect=5.0))
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="chain-conditions", daemon=True
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def start(self) -> ChainConditions:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._http.close()

    def __enter__(self) -> ChainConditions:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ configuration and counters

    @property
    def conditions(self) -> Conditions:
        with self._lock:
            return self._conditions

    def configure(self, conditions: Conditions | None = None, **changes: Any) -> Conditions:
        """Replaces the conditions (`conditions`, or the current ones with `changes`); returns the old ones."""
        with self._lock:
            old = self._conditions
            self._conditions = replace(conditions or old, **changes)
            return old

    @contextlib.contextmanager
    def imposing(self, **changes: Any) -> Iterator[ChainConditions]:
        """The current conditions with `changes`, for the duration of a `with` block."""
        old = self.configure(**changes)
        try:
            yield self
        finally:
            self.configure(old)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def stats(self) -> Stats:
        with self._lock:
            s = self._stats
            return replace(
                s,
                calls=Counter(s.calls),
                injected=Counter(s.injected),
                retry_gaps={k: list(v) for k, v in s.retry_gaps.items()},
            )

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = Stats()
            self._faulted.clear()

    # ------------------------------------------------------------ the node, directly

    def node(self, method: str, *params: Any) -> Any:
        """A JSON-RPC call straight to the node (no conditions, not counted); errors raise."""
        answer = self._http.post(
            self.upstream, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        ).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result")

    def block_number(self) -> int:
        return int(self.node("eth_blockNumber"), 16)

    def block(self, number: int | str = "latest") -> dict[str, Any]:
        tag = hex(number) if isinstance(number, int) else number
        block: dict[str, Any] = self.node("eth_getBlockByNumber", tag, False)
        return block

    def mine(self, blocks: int = 1) -> None:
        """Mines `blocks` blocks at once (e.g. 3,000 empty ones, so that a span cap bites)."""
        self.node("anvil_mine", hex(blocks))

    def interval_mining(self, seconds: int) -> None:
        """A block every `seconds`, as on a live chain (transactions wait for the next block)."""
        self.node("evm_setAutomine", False)
        self.node("evm_setIntervalMining", seconds)

    def automine(self) -> None:
        """Back to Anvil's default: a block per transaction, at once."""
        self.node("evm_setIntervalMining", 0)
        self.node("evm_setAutomine", True)

    def pause_mining(self) -> None:
        """No blocks at all until `interval_mining` or `automine`: transactions stay pending."""
        self.node("evm_setIntervalMining", 0)
        self.node("evm_setAutomine", False)

    def receipt(self, tx_hash: str, timeout: float = 10.0) -> dict[str, Any]:
        """The receipt of `tx_hash` once mined (waits at most `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while (receipt := self.node("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{tx_hash} not mined within {timeout} s")
            time.sleep(0.02)
        return dict(receipt)

    def pending(self) -> list[dict[str, Any]]:
        """Transactions in the node's pool (pending and queued)."""
        content = self.node("txpool_content")
        return [tx for part in ("pending", "queued") for txs in content[part].values() for tx in txs.values()]

    def drop(self, tx_hash: str) -> None:
        """Removes a pending transaction from the node's pool, as a node that evicts it would."""
        self.node("anvil_dropTransaction", tx_hash)

    def spike_base_fee(self, wei: int) -> None:
        """The next block's base fee per gas (then EIP-1559 brings it down again, 12.5% a block)."""
        self.node("anvil_setNextBlockBaseFeePerGas", hex(wei))

    def reorg(self, depth: int, *, keep_txs: bool = False) -> None:
        """Replaces the last `depth` blocks by as many different ones (the height stays).

        The new first block carries a marker transaction, so every replaced block gets a new hash. The
        replaced blocks' transactions are gone (as when a reorganisation orphans them and nobody
        re-broadcasts), or, with `keep_txs`, included again at the same offsets, in new blocks."""
        head = self.block_number()
        if not 0 < depth <= head:
            raise ValueError(f"cannot reorganise {depth} blocks of a chain of {head + 1}")
        pairs: list[list[Any]] = [[{"from": self._marker_sender(), "to": _MARKER_TO, "value": "0x1"}, 0]]
        if keep_txs:
            for offset, number in enumerate(range(head - depth + 1, head + 1)):
                for tx_hash in self.block(number)["transactions"]:
                    pairs.append([self.node("eth_getRawTransactionByHash", tx_hash), offset])
        self.node("anvil_reorg", depth, pairs)

    def _marker_sender(self) -> str:
        accounts: list[str] = self.node("eth_accounts")
        return accounts[-1]

    # ------------------------------------------------------------ the proxy

    def _draw(self, c: Conditions) -> str | None:
        """The fault this request gets (None: served)."""
        with self._lock:
            u = self._rng.random()
            pick = self._rng.random()
        for share, fault in (
            (c.timeout_rate, "timeout"),
            (c.rate_limit, "429+retry-after" if pick < 0.5 else "429"),
            (c.fail_rate, "503" if pick < 0.5 else "500"),
            (c.lost_answer_rate, "lost-answer"),
        ):
            if u < share:
                return fault
            u -= share
        return None

    def _resolve(self, tag: Any) -> int:
        if tag is None:
            tag = "latest"
        if isinstance(tag, int):
            return tag
        if tag == "earliest":
            return 0
        if tag in _TAGS:
            return int(self.node("eth_getBlockByNumber", tag, False)["number"], 16)
        return int(str(tag), 16)

    def _check_span(self, c: Conditions, call: dict[str, Any]) -> None:
        if c.max_log_span is None:
            return
        params = call.get("params") or [{}]
        query = params[0] if isinstance(params[0], dict) else {}
        if "blockHash" in query:
            return
        span = self._resolve(query.get("toBlock")) - self._resolve(query.get("fromBlock")) + 1
        if span > c.max_log_span:
            with self._lock:
                self._stats.refused_span += 1
            raise LogQueryRefused(-32602, f"query exceeds max block range {c.max_log_span}")
        with self._lock:
            self._stats.widest_served_span = max(self._stats.widest_served_span, span)

    def _check_results(self, c: Conditions, answer: dict[str, Any]) -> dict[str, Any]:
        result = answer.get("result")
        if c.max_log_results is not None and isinstance(result, list) and len(result) > c.max_log_results:
            with self._lock:
                self._stats.refused_results += 1
            return _error(answer.get("id"), -32005, f"query returned more than {c.max_log_results} results")
        if "result" in answer:
            with self._lock:
                self._stats.served_logs += 1
            if not c.log_timestamps and isinstance(result, list):
                answer = answer | {
                    "result": [{k: v for k, v in log.items() if k != "blockTimestamp"} for log in result]
                }
        return answer

    def _forward(self, c: Conditions, payload: Any, raw: bytes) -> bytes:
        """The answer to a valid JSON-RPC payload (one call or a batch), caps applied per call."""
        calls = payload if isinstance(payload, list) else [payload]
        refused: dict[int, dict[str, Any]] = {}
        for i, call in enumerate(calls):
            if isinstance(call, dict) and call.get("method") == "eth_sendRawTransaction":
                refusal = self._check_send(c, call)
                if refusal is not None:
                    refused[i] = _error(call.get("id"), -32000, refusal)
            if isinstance(call, dict) and call.get("method") == "eth_getLogs":
                try:
                    self._check_span(c, call)
                except LogQueryRefused as exc:
                    refused[i] = _error(call.get("id"), exc.code, exc.message)
        logs_asked = any(isinstance(x, dict) and x.get("method") == "eth_getLogs" for x in calls)
        if not refused and not logs_asked:
            return self._http.post(self.upstream, content=raw, headers={"content-type": "application/json"}).content
        passed = [call for i, call in enumerate(calls) if i not in refused]
        answers: list[Any] = []
        if passed:
            body = passed if isinstance(payload, list) else passed[0]
            answer = self._http.post(self.upstream, json=body).json()
            answers = answer if isinstance(answer, list) else [answer]
        merged: list[Any] = []
        it = iter(answers)
        for i, call in enumerate(calls):
            if i in refused:
                merged.append(refused[i])
                continue
            one = next(it)
            if isinstance(call, dict) and call.get("method") == "eth_getLogs" and isinstance(one, dict):
                one = self._check_results(c, one)
            merged.append(one)
        out = merged if isinstance(payload, list) else merged[0]
        return json.dumps(out).encode()

    def _check_send(self, c: Conditions, call: dict[str, Any]) -> str | None:
        """Why a broadcast is refused under `c` (None: forwarded)."""
        if c.hold_sends:
            self._count("holding")
            while self.conditions.hold_sends and not self._closing.wait(0.05):
                pass
            self._count("held")
            return "held and never forwarded"
        if c.underpriced_rate > 0:
            with self._lock:
                drawn = self._rng.random() < c.underpriced_rate
            if drawn:
                self._count("underpriced")
                return "replacement transaction underpriced"
        if c.nonce_too_high:
            raw = HexBytes(call["params"][0])
            nonce = int(TypedTransaction.from_bytes(raw).as_dict()["nonce"]) if raw[0] < 0x80 else None
            sender = Account.recover_transaction(raw)
            pending = int(self.node("eth_getTransactionCount", sender, "pending"), 16)
            if nonce is not None and nonce > pending:
                self._count("nonce-too-high")
                return f"nonce too high: address {sender}, tx: {nonce} state: {pending}"
        return None

    def _count(self, fault: str) -> None:
        with self._lock:
            self._stats.injected[fault] += 1

    def _note_retry(self, digest: str, fault: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            earlier = self._faulted.pop(digest, None)
            if earlier is not None:
                self._stats.retry_gaps.setdefault(earlier[0], []).append(now - earlier[1])
            if fault is not None:
                self._faulted[digest] = (fault, now)
                self._stats.injected[fault] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as hosted endpoints
            disable_nagle_algorithm = True  # headers and body leave as separate writes

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != proxy.path:
                    self._answer(404, b'{"error":"unknown path"}')
                    return
                c = proxy.conditions
                with proxy._lock:
                    proxy._stats.requests += 1
                if c.latency_s > 0 and proxy._closing.wait(c.latency_s):
                    return
                try:
                    payload = json.loads(raw)
                except ValueError:
                    self._answer(200, json.dumps(_error(None, -32700, "parse error")).encode())
                    return
                calls = payload if isinstance(payload, list) else [payload]
                with proxy._lock:
                    proxy._stats.batches += isinstance(payload, list)
                    for call in calls:
                        proxy._stats.calls[str(call.get("method")) if isinstance(call, dict) else "?"] += 1
                fault = proxy._draw(c)
                proxy._note_retry(hashlib.sha256(raw).hexdigest(), fault)
                if fault == "timeout":
                    proxy._closing.wait(c.hang_s)
                    self._hang_up()
                elif fault in ("429", "429+retry-after"):
                    ident = payload.get("id") if isinstance(payload, dict) else None
                    body = json.dumps(_error(ident, 429, "Too Many Requests: compute units per second exceeded"))
                    extra = {"Retry-After": str(c.retry_after_s)} if fault == "429+retry-after" else {}
                    self._answer(429, body.encode(), extra)
                elif fault == "503":
                    self._answer(503, b"Service Temporarily Unavailable", content_type="text/plain")
                elif fault == "500":
                    ident = payload.get("id") if isinstance(payload, dict) else None
                    self._answer(500, json.dumps(_error(ident, -32603, "internal error")).encode())
                else:
                    answer = proxy._forward(c, payload, raw)
                    if fault == "lost-answer":
                        self._hang_up()
                    else:
                        self._answer(200, answer)

            def do_GET(self) -> None:
                self._answer(405, b'{"error":"POST JSON-RPC requests"}')

            def _answer(
                self,
                status: int,
                content: bytes,
                headers: dict[str, str] | None = None,
                content_type: str = "application/json",
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)

            def _hang_up(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)  # SHUT_RDWR: no answer at all

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that gave up (timed out) before the answer are expected here: no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(ident: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}
