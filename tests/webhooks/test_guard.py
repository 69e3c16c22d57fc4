"""The outbound guard (`registry.net`) against real loopback listeners: which addresses it refuses,
that a request goes to the address that was checked (DNS rebinding), over TLS under the original
name, never through a redirect or an environment proxy, and that failures come back as coarse classes.

Host names the tests need to control (`rebind.example`, ...) go through an injected resolver: real
DNS cannot be made to answer them here, and the tests check that the OS indeed cannot resolve them,
so a request that arrives can only have gone to the address the guard checked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.chain.anvil import free_port
from registry.net.client import GuardedClient, failure_class
from registry.net.guard import HostUnresolvable, TargetRefused, check_target
from tests.webhooks.listeners import Listener, LocalCA

REFUSED = [
    "http://127.0.0.1/",
    "http://127.255.255.254:8080/",
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[::]/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fec0::1]/",  # site-local
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:a00:1]/",
    "http://[::7f00:1]/",  # IPv4-compatible
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 around 169.254.169.254
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 around 169.254.169.254
]
MALFORMED = [
    "ftp://example.com/",
    "file:///etc/passwd",
    "http://user:pw@example.com/",
    "http://example.com@127.0.0.1/",
    "http:///hook",
    "http://example.com:0/",
    "http://example.com:70000/",
    "http://exa mple.com/",
    "http://example.com/\r\nX-Injected: 1",
    "http://[fe80::1%25lo]/",
]


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} is a literal: it must not be resolved")


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        check_target(url, allow_private=False, resolver=no_dns)
    assert refused.value.reason == "non-public-address" and refused.value.status == 422


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_refused_even_with_the_opt_in(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        check_target(url, allow_private=True, resolver=no_dns)
    assert refused.value.reason == "malformed-url"


@pytest.mark.parametrize(
    "url",
    ["https://1.1.1.1/hook", "http://8.8.8.8:8080/", "https://[2606:4700:4700::1111]/", "http://[2002:808:808::]/"],
)
def test_public_addresses_pass(url: str) -> None:
    assert check_target(url, allow_private=False, resolver=no_dns).addresses


def test_the_opt_in_allows_private_targets_but_never_unspecified_or_multicast() -> None:
    for url in ("http://127.0.0.1/", "http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/"):
        assert check_target(url, allow_private=True, resolver=no_dns)
    for url in ("http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/", "http://[::ffff:0.0.0.0]/"):
        with pytest.raises(TargetRefused):
            check_target(url, allow_private=True, resolver=no_dns)


def test_every_address_a_name_resolves_to_must_be_public() -> None:
    # One public and one loopback answer: a client may pick either, so the name is refused.
    with pytest.raises(TargetRefused) as refused:
        check_target("http://mixed.example/", allow_private=False, resolver=lambda h, p: ["1.1.1.1", "127.0.0.1"])
    assert "127.0.0.1" not in refused.value.detail  # what a name resolves to is not told back
    assert check_target("http://public.example/", allow_private=False, resolver=lambda h, p: ["1.1.1.1"]).addresses


def test_names_the_system_resolves_are_checked_too() -> None:
    # The real resolver: /etc/hosts maps localhost to loopback; the others are inet_aton shorthands.
    for url in ("http://localhost/", "http://LocalHost:8080/", "http://127.1/", "http://0x7f.1/", "http://2130706433/"):
        with pytest.raises(TargetRefused):
            check_target(url, allow_private=False)
    with pytest.raises(HostUnresolvable):
        check_target("http://does-not-exist.invalid/", allow_private=False)


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def os_cannot_resolve(name: str) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(name, 80)


def test_the_request_goes_to_the_address_that_was_checked() -> None:
    """DNS rebinding: the resolver answers 127.0.0.1 for the check and 127.0.0.2 on any later
    question (a connection that resolved the name again would reach the second listener)."""
    os_cannot_resolve("rebind.example")
    checked = Listener("127.0.0.1")
    rebound = Listener("127.0.0.2", checked.port)
    answers: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        assert (host, port) == ("rebind.example", checked.port)
        answers.append("127.0.0.1" if not answers else "127.0.0.2")
        return [answers[-1]]

    client = GuardedClient(timeout=2, allow_private=True, resolver=rebinding)
    try:
        response = client.post(
            f"http://rebind.example:{checked.port}/hook?x=1", content=b"{}", headers={"Host": "evil.example"}
        )
        assert response.status_code == 204 and answers == ["127.0.0.1"]
        assert checked.seen.connections == 1 and rebound.seen.connections == 0
        request = checked.seen.requests[0]
        assert request["headers"]["Host"] == f"rebind.example:{checked.port}"  # the caller cannot set it
        assert request["path"] == "/hook?x=1" and request["body"] == b"{}"
        # The next request is checked (and resolved) again, and goes where that check pointed.
        client.post(f"http://rebind.example:{checked.port}/hook", content=b"{}")
        assert answers == ["127.0.0.1", "127.0.0.2"] and rebound.seen.connections == 1
        assert checked.seen.connections == 1
    finally:
        client.close()
        checked.close()
        rebound.close()


def test_without_the_opt_in_a_name_that_rebinds_to_loopback_is_refused_before_any_connection(
    listener: Listener,
) -> None:
    os_cannot_resolve("rebind.example")
    client = GuardedClient(timeout=2, allow_private=False, resolver=lambda h, p: ["127.0.0.1"])
    with pytest.raises(TargetRefused) as refused:
        client.post(listener.url("rebind.example"), content=b"{}")
    assert failure_class(refused.value) == "blocked" and listener.seen.connections == 0


def test_https_goes_to_the_checked_address_under_the_original_name(tmp_path: Path) -> None:
    os_cannot_resolve("rebind.example")
    ca = LocalCA.create()
    good = Listener(status=200, tls=ca.server_context("rebind.example", tmp_path))
    wrong = Listener(status=200, tls=ca.server_context("other.example", tmp_path))
    client = GuardedClient(
        timeout=2, allow_private=True, resolver=lambda h, p: ["127.0.0.1"], verify=ca.client_context()
    )
    try:
        response = client.post(good.url("rebind.example", scheme="https"), content=b"{}")
        assert response.status_code == 200
        assert good.seen.server_names == ["rebind.example"]  # SNI: the name, not the IP
        assert good.seen.requests[0]["headers"]["Host"] == f"rebind.example:{good.port}"
        # The certificate must match the original name: one for another name fails, nothing is sent.
        with pytest.raises(Exception) as failed:
            client.post(wrong.url("rebind.example", scheme="https"), content=b"{}")
        assert failure_class(failed.value) == "tls" and wrong.seen.requests == []
    finally:
        client.close()
        good.close()
        wrong.close()


def test_redirects_are_not_followed(listener: Listener) -> None:
    redirecting = Listener(status=302, headers={"Location": listener.url()})
    client = GuardedClient(timeout=2, allow_private=True)
    try:
        response = client.post(redirecting.url(), content=b"{}")
        assert response.status_code == 302 and len(redirecting.seen.requests) == 1
        assert listener.seen.connections == 0
    finally:
        client.close()
        redirecting.close()


def test_proxies_from_the_environment_are_not_used(listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Listener(status=200)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = GuardedClient(timeout=2, allow_private=True)
    try:
        assert client.post(listener.url(), content=b"{}").status_code == 204
        assert len(listener.seen.requests) == 1 and proxy.seen.connections == 0
    finally:
        client.close()
        proxy.close()


def test_failures_come_back_as_coarse_classes() -> None:
    client = GuardedClient(timeout=0.3, allow_private=True)
    slow = Listener(delay=1.0)
    try:
        with pytest.raises(Exception) as closed:
            client.post(f"http://127.0.0.1:{free_port()}/hook", content=b"{}")
        assert failure_class(closed.value) == "refused"
        with pytest.raises(Exception) as timed_out:
            client.post(slow.url(), content=b"{}")
        assert failure_class(timed_out.value) == "timeout"
        with pytest.raises(HostUnresolvable) as unresolvable:
            client.post("http://does-not-exist.invalid/", content=b"{}")
        assert failure_class(unresolvable.value) == "network"
    finally:
        client.close()
        slow.close()


def test_connections_are_not_reused_across_requests(listener: Listener) -> None:
    """A pooled connection is keyed by IP and port: it must not carry the next request (which may be
    for another name, verified under another certificate)."""
    client = GuardedClient(timeout=2, allow_private=True)
    try:
        for _ in range(3):
            client.post(listener.url(), content=b"{}")
        assert listener.seen.connections == 3
    finally:
        client.close()
