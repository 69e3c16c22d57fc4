"""The invariants the soak checks at the end, each with its numbers: read from the chain (the node
directly, never through the faults), from PostgreSQL, and from what the clients saw."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, col, create_engine, select
from web3 import Web3

from registry.chain import artifacts
from registry.events.models import ChainEvent
from registry.jobs.models import Chunk, ChunkState
from registry.twins.models import Twin
from registry.webhooks.models import Delivery
from tests.support.soak.load import World
from tests.support.soak.relays import STATUS_CODES, Receiver, Relayer
from tests.support.soak.stack import ROOT, Stack


@dataclass
class Check:
    name: str
    ok: bool
    numbers: str


def jobs_complete(world: World) -> Check:
    accepted = [r for r in world.requests if r.outcome == "accepted"]
    unanswered = [r for r in world.requests if r.outcome == "unanswered"]
    refused = Counter(r.outcome.split(":")[1].split()[0] for r in world.requests if r.outcome.startswith("refused"))
    states = Counter(
        world.done_jobs[r.job_id]["state"] if r.job_id in world.done_jobs else "unfinished" for r in accepted
    )
    short = [
        r.job_id
        for r in accepted
        if r.job_id in world.done_jobs
        and world.done_jobs[r.job_id]["counts"]["recorded"] != world.done_jobs[r.job_id]["counts"]["requested"]
    ]
    ok = states["completed"] == len(accepted) and not unanswered and not short
    return Check(
        "every accepted request's job completes",
        ok,
        f"{len(world.requests)} requests, {len(accepted)} accepted, jobs {dict(states)}, "
        f"unanswered {len(unanswered)}, refused {dict(refused)}, short of twins {short[:5]}",
    )


def twin_counts(world: World, stack: Stack, engine: Engine, w3: Web3) -> list[Check]:
    abi = artifacts.load("TwinmarkCollection").abi
    requested = sum(len(r.serials) for r in world.requests if r.outcome == "accepted")
    collections = [b.collection for b in world.brands]
    on_chain, batches_on_chain = 0, 0
    for address in collections:
        contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
        on_chain += int(contract.functions.totalMinted().call())
        batches_on_chain += int(contract.functions.nextBatchId().call()) - 1
    with Session(engine) as s:
        recorded = s.exec(select(func.count()).select_from(Twin).where(col(Twin.collection).in_(collections))).one()
        pairs = s.exec(
            select(Twin.gtin, Twin.serial, func.count())
            .where(col(Twin.collection).in_(collections))
            .group_by(col(Twin.gtin), col(Twin.serial))
            .having(func.count() > 1)
        ).all()
        batches = s.exec(
            select(Chunk.collection, Chunk.batch_id).where(Chunk.state == ChunkState.recorded).distinct()
        ).all()
    job_serials = Counter(t["serial"] for job in world.done_jobs.values() for t in job["twins"])
    twice = [s for s, n in job_serials.items() if n > 1]
    return [
        Check(
            "twins on chain == twins recorded == twins requested",
            on_chain == recorded == requested and batches_on_chain == len(batches),
            f"on chain {on_chain}, recorded {recorded}, requested {requested}; "
            f"batches on chain {batches_on_chain}, recorded {len(batches)}",
        ),
        Check(
            "no GTIN/serial twice",
            not pairs and not twice,
            f"pairs recorded twice {len(pairs)} {[tuple(p) for p in pairs[:3]]}, serials in two jobs {len(twice)}",
        ),
    ]


def relays_on_chain(world: World, relayer: Relayer, api: httpx.Client, w3: Web3) -> Check:
    """Every relay answered with a transaction: mined, successfully (following replacements); every twin
    whose story the client knows: its owner and status on chain are the ones it expects."""
    bad: list[str] = []
    for relay in relayer.relays:
        if not relay.tx_hash:
            continue
        tx, seen = relay.tx_hash, 0
        while seen < 5:
            r = api.get(f"/v1/transactions/{tx}")
            body = r.json() if r.status_code == 200 else {}
            if body.get("state") == "replaced" and body.get("replaced_by"):
                tx, seen = body["replaced_by"], seen + 1
                continue
            break
        receipt = w3.eth.get_transaction_receipt(tx) if body.get("state") == "mined" else None  # type: ignore[arg-type]
        if receipt is None or receipt["status"] != 1:
            bad.append(f"{relay.kind} {relay.token_id} {tx[:12]}: {body.get('state', r.status_code)}")
    tokens = [t for t in world.ready() if t.owner_key is not None and not t.uncertain]
    uncertain = sum(t.uncertain for t in world.ready())
    for token in tokens:
        twin = relayer.chain.twin_report(token.contract, token.token_id).twin
        if twin is None or twin.owner != token.owner_key.address or twin.status != STATUS_CODES[token.status]:
            bad.append(
                f"twin {token.token_id}: chain {twin and (twin.owner, twin.status)}, expected "
                f"{(token.owner_key.address, token.status)}"
            )
    kinds = Counter(f"{r.kind}/{r.state}" for r in relayer.relays)
    return Check(
        "every successful claim and transfer is on chain",
        not bad,
        f"relays {dict(kinds)}, twins checked {len(tokens)}, uncertain {uncertain}, refused {len(relayer.refused)}, "
        f"wrong {len(bad)} {bad[:3]}",
    )


def webhooks_delivered(world: World, engine: Engine, receivers: list[Receiver], subscriptions: list[str]) -> Check:
    with Session(engine) as s:
        rows = s.exec(
            select(Delivery.subscription_id, Delivery.event_id, Delivery.state).where(
                col(Delivery.subscription_id).in_(subscriptions)
            )
        ).all()
    valid = {event for r in receivers for event in r.valid}
    missing = [f"{e} ({state})" for _, e, state in rows if e not in valid]
    invalid = [x for r in receivers for x in r.invalid]
    tokens = {(t.contract, t.token_id) for t in world.ready()}
    ranges: dict[str, list[tuple[int, int]]] = {}
    for r in receivers:
        for payload in r.bodies:
            if payload.get("type") == "minted":
                data = payload["data"]
                ranges.setdefault(payload["contract"], []).append((data["first_token_id"], data["last_token_id"]))
    unannounced = [t for t in tokens if not any(lo <= t[1] <= hi for lo, hi in ranges.get(t[0], []))]
    states = Counter(state for _, _, state in rows)
    return Check(
        "every recorded webhook event delivered at least once, validly signed",
        not missing and not invalid and not unannounced,
        f"outbox {dict(states)}, received {sum(r.received for r in receivers)} "
        f"(receivers answered {[r.answered for r in receivers]}), not received {len(missing)} {missing[:3]}, "
        f"cut short by a killed sender {sum(r.incomplete for r in receivers)}, "
        f"bad signatures {len(invalid)} {invalid[:3]}, minted twins never announced {len(unannounced)}",
    )


def snapshot(engine: Engine) -> dict[str, Any]:
    with Session(engine) as s:
        events = sorted(
            (e.block_number, e.block_hash, e.tx_hash, e.log_index, e.name, e.token_id, e.args)
            for e in s.exec(select(ChainEvent))
        )
        twins = sorted(
            (
                t.collection,
                t.token_id,
                t.owner,
                t.status,
                t.claimed,
                t.burned,
                t.token_uri,
                t.metadata_cid,
                t.gtin,
                t.serial,
                t.name,
            )
            for t in s.exec(select(Twin))
        )
    return {"events": events, "twins": twins}


def rebuild_equals_live(stack: Stack, engine: Engine) -> Check:
    """`twinmark rebuild` into a database of its own (chain and IPFS alone) equals the live index."""
    live = snapshot(engine)
    url = stack.pg.create_database("twinmark_rebuilt")
    env = stack.env | {"TWINMARK_DATABASE_URL": url}
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "rebuild"], cwd=ROOT, env=env, capture_output=True, timeout=300, check=False
    )
    if out.returncode != 0:
        return Check("a rebuilt index equals the live one", False, f"rebuild failed: {out.stderr.decode()[-500:]}")
    rebuilt_engine = create_engine(url)
    try:
        rebuilt = snapshot(rebuilt_engine)
    finally:
        rebuilt_engine.dispose()
    diff = {k: len(set(live[k]) ^ set(rebuilt[k])) for k in live}
    first = next((sorted(set(live[k]) ^ set(rebuilt[k]))[:2] for k in live if diff[k]), [])
    return Check(
        "a rebuilt index equals the live one",
        live == rebuilt,
        f"events {len(live['events'])} live / {len(rebuilt['events'])} rebuilt, twins {len(live['twins'])} / "
        f"{len(rebuilt['twins'])}; rows differing {diff} {json.dumps(first, default=str)[:300]}",
    )


def never_500(statuses: Counter[tuple[str, str]], examples: list[str]) -> Check:
    by_kind = {kind: n for (kind, status), n in statuses.items() if status == "500"}
    return Check("never a 500", not by_kind, f"500s by kind {by_kind} {examples[:2]}")
