"""Per-client limits key on the client a trusted proxy vouches for, never on a header the client wrote,
and every per-client limit on a spendable resource has a ceiling for all clients together. Attacks
run against the real app behind a real uvicorn on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account import Account

from api.main import create_app
from api.server import uvicorn_config
from registry.chain.anvil import free_port
from tests.api.conftest import Stack, fresh_stack
from tests.siwe.conftest import message_for, personal_sign

PER_CLIENT = 3  # fresh listings per client per minute in this module


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_stack(
        tmp_path_factory.mktemp("proxy-trust"), indexer_in_process=False, fresh_listings_per_minute=PER_CLIENT
    ) as running:
        yield running


@contextmanager
def served(stack: Stack, *, plain: bool, **settings: Any) -> Iterator[httpx.Client]:
    """The app over the stack's runtime behind a real uvicorn: `plain`, uvicorn's defaults (as run by
    `uvicorn api.asgi:app`: proxy headers on, loopback trusted); else what `twinmark serve` runs.
    `settings` are changed on the runtime for the duration."""
    saved = {name: getattr(stack.runtime.settings, name) for name in settings}
    for name, value in settings.items():
        setattr(stack.runtime.settings, name, value)
    app, port = create_app(runtime=stack.runtime), free_port()
    config = (
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        if plain
        else uvicorn_config(app, stack.runtime.settings, host="127.0.0.1", port=port)
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        while not server.started:
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        for name, value in saved.items():
            setattr(stack.runtime.settings, name, value)


def fresh_listing(client: httpx.Client, forwarded_for: str) -> httpx.Response:
    owner = Account.create().address
    return client.get(f"/v1/owners/{owner}/twins", params={"fresh": "true"}, headers={"X-Forwarded-For": forwarded_for})


@pytest.mark.parametrize("plain", [True, False], ids=["plain-uvicorn", "twinmark-serve"])
def test_a_client_cannot_pick_its_own_key_with_x_forwarded_for(stack: Stack, plain: bool) -> None:
    # No proxy is trusted: a loopback client sending a new X-Forwarded-For each time is still one client.
    # (Before: uvicorn trusted loopback by default, so each new header value was a new bucket.)
    with served(stack, plain=plain, trusted_proxies="") as client:
        statuses = [fresh_listing(client, f"198.51.100.{i}").status_code for i in range(PER_CLIENT + 1)]
        assert statuses == [200] * PER_CLIENT + [429]
        refused = fresh_listing(client, "198.51.100.250")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_a_port_uvicorn_alone_reads_does_not_give_a_client_its_own_key(stack: Stack) -> None:
    # Plain uvicorn (proxy headers on, loopback trusted) reads "198.51.100.1:+1" as host and port 1;
    # the app must still see that the peer came from the header, or each new address is a new bucket.
    with served(stack, plain=True, trusted_proxies="") as client:
        for spelled in ("198.51.100.{}:+1", "client-{}:7"):
            statuses = [fresh_listing(client, spelled.format(i)).status_code for i in range(PER_CLIENT + 2)]
            assert statuses[-1] == 429, (spelled, statuses)


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(stack: Stack) -> None:
    with served(stack, plain=False, trusted_proxies="127.0.0.1") as client:
        statuses = [fresh_listing(client, "203.0.113.7").status_code for _ in range(PER_CLIENT + 1)]
        assert statuses == [200] * PER_CLIENT + [429]
        # Another client behind the same proxy has its own quota.
        assert fresh_listing(client, "203.0.113.8").status_code == 200
        # A client that writes its own X-Forwarded-For is counted under the address the proxy appended
        # (the rightmost entry the trusted proxy did not add), not under what it wrote.
        spoofed = [fresh_listing(client, f"10.9.9.{i}, 203.0.113.9").status_code for i in range(PER_CLIENT + 1)]
        assert spoofed == [200] * PER_CLIENT + [429]


def test_many_clients_together_stop_at_the_ceiling(stack: Stack) -> None:
    ceiling = 8
    with served(stack, plain=False, trusted_proxies="127.0.0.1", fresh_listings_ceiling_per_minute=ceiling) as client:
        # Every client stays far under its own quota (one listing each); together they pass the ceiling.
        answers = [fresh_listing(client, f"192.0.2.{i}") for i in range(1, ceiling + 4)]
        statuses = [r.status_code for r in answers]
        assert statuses.count(200) <= ceiling and 429 in statuses, statuses
        assert all(s == 429 for s in statuses[statuses.index(429) :]), statuses
        refused = answers[-1]
        assert int(refused.headers["Retry-After"]) > 0
        assert "all clients together" in refused.json()["detail"]
        assert refused.json()["type"].endswith("/too-many-requests"), refused.text


def test_sign_in_nonces_have_a_ceiling_for_all_clients_together(stack: Stack) -> None:
    ceiling = 5
    with served(stack, plain=False, trusted_proxies="127.0.0.1", siwe_nonces_ceiling_per_minute=ceiling) as client:
        statuses = [
            client.post("/v1/siwe/nonce", headers={"X-Forwarded-For": f"192.0.2.{100 + i}"}).status_code
            for i in range(ceiling + 2)
        ]
        assert statuses == [201] * ceiling + [429, 429]


def test_refused_sign_ins_have_a_ceiling_for_all_clients_together(stack: Stack) -> None:
    ceiling, player, thief = 4, Account.create(), Account.create()
    with served(stack, plain=False, trusted_proxies="127.0.0.1", siwe_failures_ceiling_per_minute=ceiling) as client:
        answers = []
        for i in range(ceiling + 2):  # each from its own client, far under its own 20 a minute
            headers = {"X-Forwarded-For": f"192.0.2.{200 + i}"}
            text = message_for(client.post("/v1/siwe/nonce", headers=headers).json(), player.address).text
            body = {"message": text, "signature": personal_sign(thief, text)}
            answers.append(client.post("/v1/siwe/verify", json=body, headers=headers))
        assert [r.status_code for r in answers] == [401] * ceiling + [429, 429]
        assert "refused sign-ins from all clients together" in answers[-1].json()["detail"]
        # The ceiling is reached, yet a genuine player's first sign-in from a new client goes through:
        # refusals on purpose must not lock everybody out (review of issue 19).
        headers = {"X-Forwarded-For": "198.51.100.7"}
        text = message_for(client.post("/v1/siwe/nonce", headers=headers).json(), player.address).text
        genuine = client.post(
            "/v1/siwe/verify", json={"message": text, "signature": personal_sign(player, text)}, headers=headers
        )
        assert genuine.status_code == 201, genuine.text
        # A client that was refused before is held by the ceiling, even with a good signature.
        headers = {"X-Forwarded-For": "192.0.2.200"}
        text = message_for(client.post("/v1/siwe/nonce", headers=headers).json(), player.address).text
        again = client.post(
            "/v1/siwe/verify", json={"message": text, "signature": personal_sign(player, text)}, headers=headers
        )
        assert again.status_code == 429


def test_forged_relays_from_a_few_addresses_do_not_block_an_owners_genuine_transfer(stack: Stack) -> None:
    from eth_account.messages import encode_typed_data

    from tests.api.conftest import SIGNER_KEY, physical

    headers, _ = stack.new_brand("Ceiling Victims", "CLV")
    twins = []
    for serial in ("CV-1", "CV-2"):
        job = stack.wait_job(
            headers, stack.client.post("/v1/twins", json=physical(serial), headers=headers).json()["id"]
        )
        twins.append((job["twins"][0]["contract"], job["twins"][0]["token_id"]))
    (contract, target), (_, victims) = twins
    limits = {
        "relay_limit_per_client": 2,
        "relay_ceiling_per_hour": 4,
        "relay_limit_per_token": 2,
        "relay_limit_per_owner": 3,
    }
    with served(stack, plain=False, trusted_proxies="", **limits) as client:

        def from_address(local: str) -> httpx.Client:  # no proxy trusted: each loopback address is a client
            transport = httpx.HTTPTransport(local_address=local)
            return httpx.Client(base_url=str(client.base_url), transport=transport, timeout=30)

        nonce = client.get(
            f"/v1/twins/{contract}/{target}/transfers/typed-data", params={"to": Account.create().address}
        )
        forged = {
            "to": Account.create().address,
            "nonce": nonce.json()["typed_data"]["message"]["nonce"],
            "deadline": nonce.json()["typed_data"]["message"]["deadline"],
            "signature": "0x" + "11" * 65,
        }
        # The same twin's nonce (both are fresh, nonce 0), signed by a key that is not the owner's: it
        # recovers to an address, so only the chain's simulation refuses it.
        wrong_key = Account.create()
        other = dict(
            forged,
            signature="0x"
            + bytes(
                Account.sign_message(
                    encode_typed_data(full_message=nonce.json()["typed_data"]), wrong_key.key
                ).signature
            ).hex(),
        )
        # Two attackers aim forged relays at the victim's own twin and another of the owner's: on main
        # they spent the ceiling, the owner's and the twin's quotas before the signature was checked.
        for local in ("127.0.0.11", "127.0.0.12"):
            with from_address(local) as attacker:
                for token, body in ((target, forged), (victims, other)):
                    r = attacker.post(f"/v1/twins/{contract}/{token}/transfers", json=body)
                    assert r.status_code in (400, 401, 403, 422), r.text  # refused: nothing relayed
                r = attacker.post(f"/v1/twins/{contract}/{victims}/transfers", json=forged)
                assert r.status_code == 429, r.text  # each attacker's own budget of unverified relays
        typed = client.get(
            f"/v1/twins/{contract}/{victims}/transfers/typed-data", params={"to": Account.create().address}
        )
        message = typed.json()["typed_data"]
        signature = Account.sign_message(encode_typed_data(full_message=message), SIGNER_KEY).signature
        genuine = {
            "to": message["message"]["to"],
            "nonce": message["message"]["nonce"],
            "deadline": message["message"]["deadline"],
            "signature": "0x" + bytes(signature).hex(),
        }
        with from_address("127.0.0.20") as owner:
            r = owner.post(f"/v1/twins/{contract}/{victims}/transfers", json=genuine)
        assert r.status_code in (200, 202), r.text
