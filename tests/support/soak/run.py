"""`soak(minutes, seed)`: start the stack, run the load under the fault schedule, let everything drain,
check the invariants, print the figures, and remove every file the run made."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlmodel import Session, create_engine, select
from web3 import Web3

from tests.support.soak import checks, load, report
from tests.support.soak.chaos import Chaos, schedule
from tests.support.soak.relays import Receiver, Relayer
from tests.support.soak.stack import BASE, RssSampler, Stack, logged_errors, start_stack, stop_stack

EVENTS = ["minted", "claimed", "transferred", "status_changed", "service_recorded", "content_updated", "burned"]


@dataclass
class Result:
    checks: list[checks.Check]
    table: str
    faults: Counter[str]  # faults played, by kind
    statuses: Counter[tuple[str, str]]  # answers by request kind and status

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def soak(
    minutes: float,
    seed: int,
    *,
    trace_memory: bool = False,
    keep_logs: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> Result:
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    tmp = Path(tempfile.mkdtemp(prefix="twinmark-soak-"))
    try:
        started = time.monotonic()
        stack = start_stack(tmp, seed=seed, trace_memory=trace_memory)
        say(f"stack up in {time.monotonic() - started:.0f} s (data in {tmp})")
        try:
            return _run(stack, minutes, seed, say)
        finally:
            if trace_memory and (tmp / "logs" / "tracemalloc.txt").exists():
                say((tmp / "logs" / "tracemalloc.txt").read_text())
            stop_stack(stack)
            if keep_logs is not None:
                shutil.copytree(tmp / "logs", keep_logs, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _brand(api: httpx.Client, stack: Stack, i: int, receiver: Receiver) -> tuple[load.Brand, str]:
    r = api.post("/v1/brands", json={"name": f"Soak House {i}", "symbol": f"SK{i}"}, headers=stack.operator)
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['api_key']}"}
    brand = load.Brand(f"Soak House {i}", headers, r.json()["collections"][0]["address"], f"76123456{i:04d}")
    hook = api.post("/v1/webhooks", json={"url": receiver.url, "event_types": EVENTS}, headers=headers)
    hook.raise_for_status()
    receiver.secret = hook.json()["secret"]
    return brand, str(hook.json()["id"])


def _until(what: str, probe: Callable[[], bool], timeout: float, say: Callable[[str], None]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return True
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    say(f"not within {timeout:.0f} s: {what}")
    return False


def _run(stack: Stack, minutes: float, seed: int, say: Callable[[str], None]) -> Result:
    seconds = minutes * 60
    receivers = [Receiver(flaky=False, seed=seed), Receiver(flaky=True, seed=seed + 1)]
    api = httpx.Client(base_url=stack.api_url, timeout=60)
    made = [_brand(api, stack, i, receivers[i]) for i in range(2)]
    world = load.World([b for b, _ in made])
    t0 = time.monotonic()
    tally = load.Tally(t0)
    rss = RssSampler(stack.children, t0)
    chaos = Chaos(stack, schedule(seconds, seed), t0, seconds)
    stop = threading.Event()
    relayer = Relayer(stack.api_url, world, tally, stack.anvil.url, stack.registry, seed, stop)
    threads = [
        threading.Thread(target=load.minter, args=(stack.api_url, world, tally, stop, seed), name="minter"),
        threading.Thread(target=load.job_watcher, args=(stack.api_url, world, tally, stop), name="jobs"),
        threading.Thread(target=relayer.run, name="relayer"),
        *(
            threading.Thread(target=load.reader, args=(stack.api_url, world, tally, stop, seed + i), name=f"reader{i}")
            for i in range(2)
        ),
    ]
    rss.start()
    chaos.start()
    for t in threads:
        t.start()
    while (elapsed := time.monotonic() - t0) < seconds:
        time.sleep(min(30.0, seconds - elapsed))
        say(
            f"t={time.monotonic() - t0:.0f} s: {len(world.requests)} mint requests, {len(world.tokens)} twins "
            f"ready, {len(chaos.windows)} faults, {sum(stack.supervisor.restarts.values()) if stack.supervisor else 0} "
            "restarts"
        )
    stop.set()
    for t in threads:
        t.join(timeout=90)
    chaos.stop()
    stack.proxy.configure(BASE)
    say(f"load stopped after {time.monotonic() - t0:.0f} s; draining")
    notes = _drain(stack, world, tally, say)
    rss.stop()
    engine = create_engine(stack.database_url)
    w3 = Web3(Web3.HTTPProvider(stack.anvil.url, request_kwargs={"timeout": 30}))
    try:
        ready = api.get("/readyz")
        results = [
            checks.jobs_complete(world),
            *checks.twin_counts(world, stack, engine, w3),
            checks.relays_on_chain(world, relayer, api, w3),
            checks.webhooks_delivered(world, engine, receivers, [h for _, h in made]),
            checks.never_500(tally.statuses, tally.five_hundreds),
            checks.Check("/readyz ready", ready.status_code == 200, f"{ready.status_code} {ready.text[:300]}"),
            checks.rebuild_equals_live(stack, engine),
        ]
    finally:
        engine.dispose()
        api.close()
        for r in receivers:
            r.stop()
    supervisor = stack.supervisor
    assert supervisor is not None
    notes.append(f"claim secrets lost with their one-time answer: {world.lost_secrets}")
    for child in stack.children:
        errors = Counter(logged_errors(child.log))
        notes += [f"{child.name} logged {n}x: {error}" for error, n in errors.most_common(8)]
    text = report.table(
        minutes=minutes,
        seed=seed,
        tally=tally,
        chaos=chaos,
        proxy=stack.proxy.stats(),
        restarts=supervisor.restarts,
        exits={c.name: c.exits for c in stack.children},
        checks=results,
        rss=report.rss_figures(rss.samples, seconds),
        rss_kinds=report.rss_kinds_row(rss.api_kinds, seconds),
        notes=notes,
    )
    return Result(results, text, Counter(w.kind for w in chaos.windows), tally.statuses)


def _drain(stack: Stack, world: load.World, tally: load.Tally, say: Callable[[str], None]) -> list[str]:
    """After the load: replay the requests nobody answered (same key and body), wait for every job, an
    empty mempool, the indexer at the head and the webhook outbox empty, and `/readyz`."""
    notes = []
    started = time.monotonic()
    api = load.Api(stack.api_url, tally)
    try:
        _until("the API answers", lambda: api.http.get("/healthz").status_code == 200, 60, say)
        unanswered = [r for r in world.requests if r.outcome == "unanswered"]
        for request in unanswered:
            load.mint_request(api, world, request, retry_for=60)
        notes.append(f"unanswered mint requests replayed after the run: {len(unanswered)}")

        def jobs_done() -> bool:
            load.watch_jobs(api, world)
            return not world.pending_jobs

        _until("every accepted job finished", jobs_done, 120, say)
        _until("an empty mempool", lambda: int(stack.proxy.node("txpool_status")["pending"], 16) == 0, 60, say)
        head = stack.proxy.block_number()
        _until("the indexer at the head and the outbox empty", lambda: _quiet(stack, head), 90, say)
        _until("/readyz answers 200", lambda: api.http.get("/readyz").status_code == 200, 45, say)
    finally:
        api.close()
    notes.append(f"drained in {time.monotonic() - started:.0f} s")
    return notes


def _quiet(stack: Stack, head: int) -> bool:
    from registry.indexer.models import IndexCursor
    from registry.webhooks.models import Delivery

    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as s:
            cursor = s.exec(select(IndexCursor)).first()
            pending = s.exec(select(Delivery.id).where(Delivery.state == "pending")).first()
    finally:
        engine.dispose()
    return cursor is not None and cursor.next_block > head and pending is None
