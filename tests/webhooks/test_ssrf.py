"""Server-side request forgery through webhooks, attempted through the real API and sender against
real loopback listeners: with the operator's opt-in off (the default) no such URL can be registered,
a subscription stored before the rule is never called (nor on redelivery), and the delivery log
never tells more than a coarse class."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from registry.chain.anvil import Anvil, free_port
from registry.settings import Settings
from registry.webhooks.models import Delivery
from registry.webhooks.sender import WebhookSender
from tests.api.conftest import OPERATOR, Stack, running_stack, stack_settings
from tests.indexer.conftest import Indexed
from tests.webhooks.listeners import Listener

OPT_IN = "TWINMARK_WEBHOOK_ALLOW_PRIVATE_TARGETS"


def start(tmp: Path, allow_private: bool) -> Iterator[Stack]:
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp,
        anvil,
        webhook_backoff_seconds=0.05,
        webhook_timeout_seconds=0.5,
        webhook_allow_private_targets=allow_private,  # explicit either way
    )
    with running_stack(settings, anvil, with_worker=False, with_indexer=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with the opt-in off, as deployed by default."""
    yield from start(tmp_path_factory.mktemp("ssrf-off"), allow_private=False)


@pytest.fixture
def opted_in(tmp_path: Path) -> Iterator[Indexed]:
    """A stack whose operator allows private targets, with a brand to mint in; the indexer is driven by hand."""
    for stack in start(tmp_path, allow_private=True):
        r = stack.client.post("/v1/brands", json={"name": "Hook House", "symbol": "HKH"}, headers=stack.operator)
        brand = {"Authorization": f"Bearer {r.json()['api_key']}"}
        yield Indexed(stack.runtime, stack.client, stack.anvil, brand, r.json()["collections"][0]["address"])


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def partner_key(client: Any) -> dict[str, str]:
    r = client.post("/v1/partners", json={"name": "Resale Co"}, headers={"Authorization": f"Bearer {OPERATOR}"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


def subscribe(client: Any, key: dict[str, str], url: str) -> Any:
    return client.post("/v1/webhooks", json={"url": url, "event_types": ["minted"]}, headers=key)


def run_sender(ix: Indexed, settings: Settings, done: Callable[[], bool], timeout: float = 20) -> None:
    sender = WebhookSender(ix.runtime.engine, settings)
    deadline = time.monotonic() + timeout
    try:
        while not done() and time.monotonic() < deadline:
            sender.lease.hold()
            sender.step()
            time.sleep(0.05)
        assert done(), "the sender did not get there in time"
    finally:
        sender.lease.release()


def deliveries(ix: Indexed, hook: str) -> list[Delivery]:
    with Session(ix.runtime.engine) as s:
        return list(s.exec(select(Delivery).where(Delivery.subscription_id == hook)))


def settled(ix: Indexed, hook: str) -> Callable[[], bool]:
    return lambda: all(d.state != "pending" for d in deliveries(ix, hook))


def attempts_of(ix: Indexed, key: dict[str, str], hook: str) -> list[dict[str, Any]]:
    r = ix.client.get(f"/v1/webhooks/{hook}/deliveries", headers=key)
    assert r.status_code == 200, r.text
    return [a for d in r.json()["deliveries"] for a in d["attempts"]]


ATTACKS = [
    "http://127.0.0.1:{port}/hook",  # a real listener runs there
    "http://localhost:{port}/hook",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.0.1/hook",
    "http://100.64.0.1/hook",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://[::ffff:7f00:1]:{port}/hook",
    "http://[2002:7f00:1::]:{port}/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://0.0.0.0:{port}/hook",
    "http://127.1:{port}/hook",
]


@pytest.mark.parametrize("template", ATTACKS)
def test_registering_a_non_public_target_is_refused(closed: Stack, listener: Listener, template: str) -> None:
    key = partner_key(closed.client)
    r = subscribe(closed.client, key, template.format(port=listener.port))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"] == "https://twinmark.dev/problems/invalid-input"
    assert problem["reason"] == "non-public-address"
    assert "public addresses" in problem["detail"] and OPT_IN in problem["detail"]
    assert listener.seen.connections == 0
    assert closed.client.get("/v1/webhooks", headers=key).json()["webhooks"] == []


def test_a_name_is_refused_without_telling_what_it_resolves_to(closed: Stack, listener: Listener) -> None:
    r = subscribe(closed.client, partner_key(closed.client), f"http://localhost:{listener.port}/hook")
    assert r.status_code == 422 and "127.0.0.1" not in r.json()["detail"] and "::1" not in r.json()["detail"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://user:pw@example.com/hook", "malformed-url"),
        ("http://example.com:0/hook", "malformed-url"),
        ("http://does-not-exist.invalid/hook", "unresolvable-host"),
        ("http://rebind.example/hook", "unresolvable-host"),
    ],
)
def test_credentials_bad_ports_and_unresolvable_names_are_refused(closed: Stack, url: str, reason: str) -> None:
    r = subscribe(closed.client, partner_key(closed.client), url)
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "https://twinmark.dev/problems/invalid-input" and r.json()["reason"] == reason
    assert OPT_IN not in r.json()["detail"]  # the opt-in would not help: no need to mention it


def test_a_public_target_is_accepted(closed: Stack) -> None:
    key = partner_key(closed.client)
    r = subscribe(closed.client, key, "https://1.1.1.1/hook")  # a literal: no DNS needed here
    assert r.status_code == 201, r.text
    assert closed.client.delete(f"/v1/webhooks/{r.json()['id']}", headers=key).status_code == 204


def test_a_subscription_from_before_the_rule_is_never_called(opted_in: Indexed, listener: Listener) -> None:
    ix = opted_in
    key = partner_key(ix.client)
    # Stored while private targets were allowed...
    r = subscribe(ix.client, key, listener.url())
    assert r.status_code == 201, r.text
    hook = r.json()["id"]
    ix.mint_direct(["Probe"])
    ix.runtime.indexer.catch_up()
    assert len(deliveries(ix, hook)) == 1
    # ...then the operator turns the opt-in off (the default): the sender checks at every attempt.
    rule = ix.runtime.settings.model_copy(update={"webhook_allow_private_targets": False})
    run_sender(ix, rule, settled(ix, hook))
    assert listener.seen.connections == 0
    [delivery] = deliveries(ix, hook)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("dead", 1, "blocked")  # not retried
    assert [(a["status"], a["error"], a["ms"]) for a in attempts_of(ix, key, hook)] == [(None, "blocked", 0)]

    # Redelivery on demand checks again and is blocked again.
    r = ix.client.post(f"/v1/webhooks/{hook}/deliveries/{delivery.id}/redeliver", headers=key)
    assert r.status_code == 202
    run_sender(ix, rule, settled(ix, hook))
    assert listener.seen.connections == 0
    assert [(a["status"], a["error"]) for a in attempts_of(ix, key, hook)] == [(None, "blocked")] * 2


def test_a_closed_port_is_logged_as_refused_and_nothing_more(opted_in: Indexed) -> None:
    ix = opted_in
    key = partner_key(ix.client)
    port = free_port()
    r = subscribe(ix.client, key, f"http://127.0.0.1:{port}/hook")
    assert r.status_code == 201, r.text  # the operator allows private targets here
    hook = r.json()["id"]
    ix.mint_direct(["Scan"])
    ix.runtime.indexer.catch_up()
    run_sender(ix, ix.runtime.settings, lambda: len(attempts_of(ix, key, hook)) >= 2)
    log = ix.client.get(f"/v1/webhooks/{hook}/deliveries", headers=key).json()
    attempts = [a for d in log["deliveries"] for a in d["attempts"]]
    assert {(a["status"], a["error"]) for a in attempts} == {(None, "refused")}
    assert all(set(a) == {"at", "status", "error", "ms"} for a in attempts)
    assert str(port) not in json.dumps(log) and "Errno" not in json.dumps(log)
    assert deliveries(ix, hook)[0].last_error == "refused"  # retried: a closed port may open


def test_a_redirect_is_logged_and_not_followed(opted_in: Indexed, listener: Listener) -> None:
    ix = opted_in
    key = partner_key(ix.client)
    redirecting = Listener(status=302, headers={"Location": listener.url()})
    try:
        r = subscribe(ix.client, key, redirecting.url())
        assert r.status_code == 201, r.text
        hook = r.json()["id"]
        ix.mint_direct(["Redirected"])
        ix.runtime.indexer.catch_up()
        run_sender(ix, ix.runtime.settings, lambda: len(redirecting.seen.requests) >= 1)
        assert listener.seen.connections == 0
        assert [(a["status"], a["error"]) for a in attempts_of(ix, key, hook)][:1] == [(302, None)]
        assert deliveries(ix, hook)[0].state == "pending"  # a 3xx is not a delivery: retried later
    finally:
        redirecting.close()
