"""The client key per-client limits count under (api.server.client_key), on the scopes a server hands
the app: which X-Forwarded-For entries are believed, and which forms of one client are one key."""

from __future__ import annotations

from typing import Any

import pytest

from api.server import UNVERIFIED, client_key, trusted_networks
from registry.settings import Settings

PROXIES = trusted_networks("127.0.0.1, 10.0.0.0/8, fd00::/8")


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    return {
        "type": "http",
        "client": (peer, 41234) if peer is not None else None,
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


@pytest.mark.parametrize(
    ("request_scope", "trusted", "key"),
    [
        # Nothing trusted: the header is never read.
        (scope("127.0.0.1", "203.0.113.5"), (), "127.0.0.1"),
        (scope("198.51.100.1", "203.0.113.5"), PROXIES, "198.51.100.1"),  # peer is no proxy of ours
        (scope("127.0.0.1"), PROXIES, "127.0.0.1"),  # a trusted peer without the header: itself
        (scope("127.0.0.1", "203.0.113.5"), PROXIES, "203.0.113.5"),
        # Walked from the right over trusted hops; what the client wrote to the left is ignored.
        (scope("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.1.2.3"), PROXIES, "203.0.113.5"),
        (scope("10.0.0.2", "6.6.6.6", "203.0.113.5:5555"), PROXIES, "203.0.113.5"),  # two header lines, a port
        (scope("10.0.0.2", "10.0.0.9, 10.0.0.8"), PROXIES, "10.0.0.9"),  # every hop a proxy: the first
        (scope("10.0.0.2", "unknown"), PROXIES, "unknown"),  # not an address: as the proxy sent it
        # One IPv6 subscriber is one key whatever address of its /64 it uses.
        (scope("2001:db8:1:2::1"), (), "2001:db8:1:2::/64"),
        (scope("2001:db8:1:2:ffff::9"), (), "2001:db8:1:2::/64"),
        (scope("fd00::1", "[2001:db8:5:6::7]:443"), PROXIES, "2001:db8:5:6::/64"),
        (scope("::ffff:127.0.0.1", "203.0.113.5"), PROXIES, "203.0.113.5"),  # IPv4-mapped peer
        (scope(None), PROXIES, "unknown"),
    ],
)
def test_the_client_key(request_scope: dict[str, Any], trusted: tuple[Any, ...], key: str) -> None:
    assert client_key(request_scope, trusted) == key


def test_a_peer_the_server_took_from_the_header_is_not_believed() -> None:
    # uvicorn's default proxy handling put the header's entry in the peer's place: the real peer is
    # unknown, so whatever the client wrote is not its key, trusted proxies or not.
    for trusted in ((), PROXIES):
        for entry, peer in (
            ("203.0.113.99", ("203.0.113.99", 0)),
            ("6.6.6.6:1234", ("6.6.6.6", 1234)),
            ("[2001:db8::6]", ("2001:db8::6", 0)),
            ("x:y", ("x:y", 0)),
        ):
            rewritten = {"client": peer, "headers": [(b"x-forwarded-for", b"1.1.1.1, " + entry.encode())]}
            assert client_key(rewritten, trusted) == UNVERIFIED, entry


def test_a_local_client_through_local_proxies_is_itself() -> None:
    # Two proxies on one host (the second appends the first's loopback address): the peer's address is
    # in the header, but with the peer's real port it is no replacement by the server.
    trusted = trusted_networks("127.0.0.1")
    assert client_key(scope("127.0.0.1", "203.0.113.5, 127.0.0.1"), trusted) == "203.0.113.5"
    assert client_key(scope("127.0.0.1", "127.0.0.1"), trusted) == "127.0.0.1"


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, 192.168.1.1").trusted_proxies
    with pytest.raises(ValueError, match="nginx"):
        Settings(trusted_proxies="10.0.0.0/8, nginx")


@pytest.mark.parametrize(
    "entry", ["198.51.100.7:+1", "198.51.100.7: 7", "198.51.100.7:5_0", "[2001:db8::7]:+9", "client-1:7", "[x]:7"]
)
def test_a_port_only_uvicorn_reads_does_not_hide_its_rewrite(entry: str) -> None:
    # uvicorn parses an entry's port with int(), which takes "+1", " 7" and "5_0", and keeps a host
    # that is no address ("client-1:7"): the peer it makes from such an entry must still be recognised,
    # or the client picks its key again (a new one each request) under `uvicorn api.asgi:app` left
    # with its default proxy handling.
    from uvicorn.middleware.proxy_headers import _TrustedHosts

    header = f"1.1.1.1, {entry}"
    peer = _TrustedHosts("127.0.0.1").get_trusted_client_address(header)
    assert peer[1] != 0  # uvicorn did read a port
    rewritten = {"client": peer, "headers": [(b"x-forwarded-for", header.encode())]}
    for trusted in ((), PROXIES):
        assert client_key(rewritten, trusted) == UNVERIFIED


def test_an_enormous_header_costs_little_to_read() -> None:
    # Any client may send a 16 KiB X-Forwarded-For of 8,000 tiny entries; each was parsed as an address
    # (and failed, an exception each) to look for the server's rewrite: 60 ms of CPU a request.
    import time

    for value in (",".join(["1"] * 8_000), ",".join(["203.0.113.9"] * 1_300)):
        request_scope = scope("198.51.100.1", value)
        started = time.perf_counter()
        for _ in range(10):
            assert client_key(request_scope, ()) == "198.51.100.1"
        assert (time.perf_counter() - started) / 10 < 0.02  # (was 60 ms; now 1-4 ms)
