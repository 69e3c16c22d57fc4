"""Owners' traffic (claims, signed transfers, signed status reports) and the webhook receivers.

A relay's outcome is known when the service answered 200 or 202 with a transaction hash. A retry after
a 5xx or a broken connection may meet the first attempt's success (409: already claimed, stale nonce,
transaction pending): then the chain says what happened, and a twin whose story stays unclear is
marked uncertain and left out of the checks (counted)."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standardwebhooks
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from registry.chain.reads import ChainReader
from registry.webhooks.signing import verify_signature
from tests.support.soak.load import Api, Tally, Token, World

RELAY_RETRY_SECONDS = 40.0
STATUS_CODES = {"active": 0, "lost": 1, "stolen": 2}


@dataclass
class Relay:
    kind: str  # claim, transfer, status
    contract: str
    token_id: int
    tx_hash: str
    state: str  # mined, pending, or "learned" (from the chain after an unclear answer)


class Relayer:
    """Claims twins with their secrets, transfers them on with the owner's EIP-712 signature, reports
    them lost and found again; keeps what the chain should say (owner, status) per twin."""

    def __init__(
        self, base_url: str, world: World, tally: Tally, node_url: str, registry: str, seed: int, stop: threading.Event
    ) -> None:
        self.api, self.world, self.rng, self.stop = Api(base_url, tally, stop), world, random.Random(seed), stop
        self.chain = ChainReader(Web3(Web3.HTTPProvider(node_url, request_kwargs={"timeout": 30})), registry)
        self.relays: list[Relay] = []
        self.refused: list[str] = []

    def run(self) -> None:
        try:
            while not self.stop.wait(self.rng.uniform(0.2, 0.5)):
                self.step()
        finally:
            self.api.close()

    def step(self) -> None:
        now = time.monotonic()
        tokens = [t for t in self.world.ready() if not t.uncertain and t.busy_until < now]
        claimable = [t for t in tokens if t.secret is not None and t.owner_key is None]
        owned = [t for t in tokens if t.owner_key is not None]
        if claimable and (not owned or self.rng.random() < 0.5):
            self.claim(self.rng.choice(claimable))
        elif owned:
            token = self.rng.choice(owned)
            if self.rng.random() < 0.6 and token.status == "active":
                self.transfer(token)
            else:
                self.report(token, "active" if token.status == "lost" else "lost")

    def claim(self, token: Token) -> None:
        buyer = Account.create()
        body = {"secret": token.secret, "recipient": buyer.address}
        if self._relay("claim", token, "/claim", body, lambda: self._owner(token) == buyer.address):
            token.owner_key, token.secret = buyer, None

    def transfer(self, token: Token) -> None:
        buyer = Account.create()
        base = f"/v1/twins/{token.contract}/{token.token_id}/transfers"
        r = self.api.call(
            "transfer-typed-data", "GET", base + "/typed-data", params={"to": buyer.address}, retry_for=20
        )
        if r is None or r.status_code != 200:
            return
        typed = r.json()["typed_data"]
        body = {**_signed(token.owner_key, typed), "to": buyer.address}
        if self._relay("transfer", token, "/transfers", body, lambda: self._owner(token) == buyer.address):
            token.owner_key = buyer

    def report(self, token: Token, status: str) -> None:
        base = f"/v1/twins/{token.contract}/{token.token_id}/status"
        r = self.api.call("status-typed-data", "GET", base + "/typed-data", params={"status": status}, retry_for=20)
        if r is None or r.status_code != 200:
            return
        body = {**_signed(token.owner_key, r.json()["typed_data"]), "status": status}
        if self._relay("status", token, "/status", body, lambda: self._status(token) == STATUS_CODES[status]):
            token.status = status

    def _relay(self, kind: str, token: Token, suffix: str, body: dict[str, Any], happened: Any) -> bool:
        """Whether the relay happened (answered, or learned from the chain)."""
        path = f"/v1/twins/{token.contract}/{token.token_id}{suffix}"
        first = self.api.call(kind, "POST", path, json=body, retry_for=0)
        r = first
        if first is None or first.status_code >= 500 or first.status_code == 429:
            r = self.api.call(kind, "POST", path, json=body, retry_for=RELAY_RETRY_SECONDS)
        if r is not None and r.status_code in (200, 201, 202):
            answer = r.json()
            state = answer.get("state", "mined")
            self.relays.append(Relay(kind, token.contract, token.token_id, answer["tx_hash"], state))
            token.busy_until = time.monotonic() + (20 if state == "pending" else 0)
            return True
        if r is not None and r is first and r.status_code < 500:
            # Refused on its first answer (nothing sent): the twin stays as it was. Unexpected here.
            self.refused.append(f"{kind} {token.token_id}: {r.status_code} {r.text[:160]}")
            return False
        # No clear answer (retries spent, or a 409 after a lost first answer): ask the chain.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if happened():
                self.relays.append(Relay(kind, token.contract, token.token_id, "", "learned"))
                return True
            time.sleep(1.0)
        token.uncertain = True
        return False

    def _owner(self, token: Token) -> str | None:
        report = self.chain.twin_report(token.contract, token.token_id)
        return report.twin.owner if report.twin is not None else None

    def _status(self, token: Token) -> int | None:
        report = self.chain.twin_report(token.contract, token.token_id)
        return report.twin.status if report.twin is not None else None


def _signed(owner: Any, typed: dict[str, Any]) -> dict[str, Any]:
    signature = Account.sign_message(encode_typed_data(full_message=typed), owner.key).signature
    m = typed["message"]
    return {"nonce": m["nonce"], "deadline": m["deadline"], "signature": "0x" + bytes(signature).hex()}


class Receiver:
    """A webhook receiver on loopback that checks both signatures of every delivery; `flaky` answers
    503 to one delivery in five and sits on one in twenty past the sender's timeout."""

    def __init__(self, *, flaky: bool, seed: int) -> None:
        self.secret = ""
        self.valid: dict[str, dict[str, Any]] = {}  # event id -> payload, deliveries whose signatures both verified
        self.invalid: list[str] = []
        self.received = 0
        self.incomplete = 0  # requests whose body ended short (the sender was killed while sending)
        self.answered: dict[str, int] = {}
        self._lock = threading.Lock()
        rng = random.Random(seed)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (the indexer is SIGKILLed): no delivery, nothing to
                    # verify; it is sent again, whole, by the next sender.
                    with receiver._lock:
                        receiver.incomplete += 1
                    return
                receiver.take(dict(self.headers), body)
                roll = rng.random() if flaky else 1.0
                if roll < 0.05:
                    time.sleep(2.5)
                status = 503 if roll < 0.2 else 204
                with receiver._lock:
                    receiver.answered[str(status)] = receiver.answered.get(str(status), 0) + 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, name="soak-receiver", daemon=True).start()

    def take(self, headers: dict[str, str], body: bytes) -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        event_id = lower.get("twinmark-event-id", "?")
        ours = verify_signature(
            self.secret, lower.get("twinmark-timestamp", ""), body, lower.get("twinmark-signature", "")
        )
        try:
            standardwebhooks.Webhook(self.secret).verify(body, lower)
            standard = True
        except Exception:  # any refusal of the library is an invalid signature
            standard = False
        with self._lock:
            self.received += 1
            if ours and standard:
                self.valid[event_id] = json.loads(body)
            else:
                self.invalid.append(f"{event_id}: twinmark {ours}, standard {standard}")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.valid.values())

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
