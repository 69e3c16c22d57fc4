"""The soak's clients: what they sent, what came back, and the world they built (jobs, twins, owners).

Mints (single and batch) carry an `Idempotency-Key`; a 5xx, a 429 or a broken connection is retried
with the same key and body until an answer or the retry budget is spent (then the request is
"unanswered", and replayed after the run to learn whether it was accepted). Readers (verifications
cold and warm, pages, the resolver, gateway reads, lookups) never retry: their first answer counts."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from registry.twins.gs1 import gtin_check_digit

RETRYABLE = {429, 500, 502, 503, 504}
MINT_RETRY_SECONDS = 60.0


class Tally:
    """Answers by request kind and status ("200", "503", "conn-error", ...), and each verification's
    timing (start and end, seconds since the load started) for the p50/p99 inside and outside faults."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.statuses: Counter[tuple[str, str]] = Counter()
        self.verifications: list[tuple[float, float, bool]] = []  # (start, end, cold), 200s only
        self.five_hundreds: list[str] = []  # the first few 500 answers, for the report
        self._lock = threading.Lock()

    def hit(self, kind: str, status: str, detail: str = "") -> None:
        with self._lock:
            self.statuses[(kind, status)] += 1
            if status == "500" and len(self.five_hundreds) < 10:
                self.five_hundreds.append(f"{kind}: {detail[:300]}")

    def verification(self, start: float, end: float, cold: bool) -> None:
        with self._lock:
            self.verifications.append((start - self.t0, end - self.t0, cold))


class Api:
    """One client thread's HTTP client: a request, retried when `retry_for` > 0."""

    def __init__(self, base_url: str, tally: Tally, stop: threading.Event | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30.0, connect=3.0))
        self.tally = tally
        self.stop = stop  # once set, no more retries: what is left unanswered is replayed after the run

    def call(self, kind: str, method: str, path: str, *, retry_for: float = 0.0, **kw: Any) -> httpx.Response | None:
        deadline = time.monotonic() + retry_for
        delay = 0.25
        while True:
            response: httpx.Response | None = None
            try:
                response = self.http.request(method, path, **kw)
                status = str(response.status_code)
            except httpx.TimeoutException:
                status = "timeout"
            except httpx.TransportError:
                status = "conn-error"
            self.tally.hit(kind, status, response.text if response is not None and status == "500" else "")
            if response is not None and response.status_code not in RETRYABLE:
                return response
            wait = delay
            if response is not None and (after := response.headers.get("Retry-After", "")).isdigit():
                wait = max(wait, min(float(after), 5.0))
            if time.monotonic() + wait > deadline or (self.stop is not None and self.stop.is_set()):
                return response
            time.sleep(wait)
            delay = min(delay * 2, 4.0)

    def close(self) -> None:
        self.http.close()


@dataclass
class Brand:
    name: str
    headers: dict[str, str]
    collection: str
    code: str  # the GTIN body: every twin of the brand has this GTIN, serials differ


@dataclass
class MintRequest:
    kind: str  # "mint-single" or "mint-batch"
    brand: Brand
    path: str
    body: dict[str, Any]
    key: str
    serials: list[str]
    claimable: bool
    job_id: str | None = None
    outcome: str = "unanswered"  # accepted, refused: <status>, unanswered


@dataclass
class Token:
    brand: Brand
    contract: str
    token_id: int
    gtin: str
    serial: str
    token_uri: str
    claimable: bool
    secret: str | None = None
    owner_key: Any = None  # the LocalAccount of the current owner, once claimed
    status: str = "active"
    busy_until: float = 0.0  # a relay answered pending: leave the twin alone until then
    uncertain: bool = False  # a relay whose outcome the client could not learn: excluded from the checks
    verified: bool = False


@dataclass
class World:
    """What the clients built, shared by the threads (one lock)."""

    brands: list[Brand]
    requests: list[MintRequest] = field(default_factory=list)
    pending_jobs: dict[str, MintRequest] = field(default_factory=dict)
    done_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # job id -> its last view
    tokens: dict[tuple[str, int], Token] = field(default_factory=dict)
    lost_secrets: int = 0  # claim secrets whose one-time answer never reached the client
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ready(self) -> list[Token]:
        with self.lock:
            return list(self.tokens.values())


def twin_body(brand: Brand, serial: str, claimable: bool) -> dict[str, Any]:
    return {
        "kind": "physical",
        "name": f"Soak bag {serial}",
        "gtin": brand.code + str(gtin_check_digit(brand.code)),
        "serial": serial,
        "materials": [{"name": "Calfskin", "percent": 100}],
        "origin_country": "FR",
        "claimable": claimable,
    }


def mint_request(api: Api, world: World, request: MintRequest, retry_for: float = MINT_RETRY_SECONDS) -> None:
    headers = request.brand.headers | {"Idempotency-Key": request.key}
    r = api.call(request.kind, "POST", request.path, json=request.body, headers=headers, retry_for=retry_for)
    if r is None or r.status_code in RETRYABLE:
        return
    if r.status_code != 202:
        request.outcome = f"refused: {r.status_code} {r.text[:200]}"
        return
    request.outcome, request.job_id = "accepted", str(r.json()["id"])
    with world.lock:
        if request.job_id not in world.done_jobs:
            world.pending_jobs[request.job_id] = request


def minter(base_url: str, world: World, tally: Tally, stop: threading.Event, seed: int) -> None:
    """Single twins (3 in 4) and batches of 5-20, some claimable, a request every 0.1-0.4 s."""
    rng, api, n = random.Random(seed), Api(base_url, tally, stop), 0
    try:
        while not stop.is_set():
            brand = rng.choice(world.brands)
            claimable = rng.random() < 0.4
            size = 1 if rng.random() < 0.75 else rng.randint(5, 20)
            serials = [f"S{seed}-{n + i}" for i in range(size)]
            n += size
            twins = [twin_body(brand, s, claimable) for s in serials]
            kind, path, body = (
                ("mint-single", "/v1/twins", twins[0]) if size == 1 else ("mint-batch", "/v1/batches", {"twins": twins})
            )
            request = MintRequest(kind, brand, path, body, str(uuid.uuid4()), serials, claimable)
            with world.lock:
                world.requests.append(request)
            mint_request(api, world, request)
            stop.wait(rng.uniform(0.1, 0.4))
    finally:
        api.close()


def watch_jobs(api: Api, world: World) -> None:
    """One pass over the pending jobs: completed ones give their twins (and claim secrets) to the world."""
    with world.lock:
        pending = list(world.pending_jobs.items())[:40]
    for job_id, request in pending:
        headers = request.brand.headers
        r = api.call("job-status", "GET", f"/v1/jobs/{job_id}", headers=headers, params={"limit": 100})
        if r is None or r.status_code != 200 or r.json()["state"] not in ("completed", "failed"):
            continue
        job = r.json()
        secrets: dict[int, str] = {}
        if job["state"] == "completed" and request.claimable:
            got = api.call("claim-secrets", "GET", f"/v1/jobs/{job_id}/claim-secrets", headers=headers, retry_for=30)
            if got is not None and got.status_code == 200:
                secrets = {int(s["token_id"]): s["secret"] for s in got.json()["secrets"]}
            else:
                with world.lock:  # handed over once: an answer lost on its way is lost for good
                    world.lost_secrets += len(job["twins"])
        with world.lock:
            world.pending_jobs.pop(job_id, None)
            world.done_jobs[job_id] = job
            for t in job["twins"] if job["state"] == "completed" else []:
                token = Token(
                    request.brand,
                    t["contract"],
                    int(t["token_id"]),
                    t["gtin"],
                    t["serial"],
                    t["token_uri"],
                    request.claimable,
                    secrets.get(int(t["token_id"])),
                )
                world.tokens[(token.contract, token.token_id)] = token


def job_watcher(base_url: str, world: World, tally: Tally, stop: threading.Event) -> None:
    api = Api(base_url, tally, stop)
    try:
        while not stop.wait(0.5):
            watch_jobs(api, world)
    finally:
        api.close()


def reader(base_url: str, world: World, tally: Tally, stop: threading.Event, seed: int) -> None:
    """A buyer's traffic: verifications cold (a twin not verified before) and warm, the page (directly
    and through the GS1 resolver), gateway reads of the metadata, lookups by GTIN and serial."""
    rng, api = random.Random(seed), Api(base_url, tally)
    html = {"Accept": "text/html", "Accept-Language": rng.choice(["en", "zh-CN"])}
    try:
        while not stop.wait(rng.uniform(0.02, 0.08)):
            tokens = world.ready()
            if not tokens:
                continue
            pick = rng.random()
            token = rng.choice(tokens)
            base = f"{token.contract}/{token.token_id}"
            if pick < 0.55:
                fresh = [t for t in tokens[-200:] if not t.verified]
                cold = pick < 0.25 and bool(fresh)
                if cold:
                    token = rng.choice(fresh)
                    base = f"{token.contract}/{token.token_id}"
                token.verified = True
                start = time.monotonic()
                r = api.call("verify-cold" if cold else "verify-warm", "GET", f"/v1/verify/{base}")
                if r is not None and r.status_code == 200:
                    tally.verification(start, time.monotonic(), cold)
            elif pick < 0.7:
                api.call("page", "GET", f"/t/{base}", headers=html)
            elif pick < 0.8:
                api.call("resolver", "GET", f"/01/{token.gtin}/21/{token.serial}", headers=html, follow_redirects=True)
            elif pick < 0.92:
                cid_path = token.token_uri.removeprefix("ipfs://")
                api.call("gateway", "GET", f"/ipfs/{cid_path}")
            else:
                api.call("lookup", "GET", "/v1/twins", params={"gtin": token.gtin, "serial": token.serial})
    finally:
        api.close()
