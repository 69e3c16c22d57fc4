"""Which URLs the service may send requests to on a user's behalf.

A user-supplied URL is a request the service makes from inside its network. Without a check it
reaches loopback services, the private network and the cloud metadata endpoint (169.254.169.254),
and whatever the service reports back (status, error, timing) maps them. `check_target` parses the
URL with the same parser that sends the request (httpx), resolves the host once and refuses it unless
every address is public; `registry.net.client` then connects to exactly those addresses, so a DNS
answer that changes between the check and the connection (rebinding) cannot redirect it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

import httpx

from registry.errors import InvalidInput

Address = IPv4Address | IPv6Address
# (host name in ASCII/IDNA form, port) -> the addresses it resolves to, as strings
Resolver = Callable[[str, int], Sequence[str]]

# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the last 32 bits are an IPv4 address.
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))


class TargetRefused(InvalidInput):
    """The URL is malformed, or its host is (or resolves to) an address outbound requests may not reach.
    `reason` (in the problem body) is `malformed-url` or `non-public-address`."""

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason


class HostUnresolvable(InvalidInput):
    """The host name has no address (or the resolver failed): nothing was checked, nothing is sent."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, reason="unresolvable-host")
        self.reason = "unresolvable-host"


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses its host resolved to when it was checked."""

    url: httpx.URL
    addresses: tuple[Address, ...]

    @property
    def host(self) -> str:
        """The host as it goes on the wire (IDNA for names, no brackets for IPv6)."""
        return self.url.raw_host.decode("ascii")

    @property
    def port(self) -> int:
        return self.url.port or (443 if self.url.scheme == "https" else 80)

    @property
    def is_literal(self) -> bool:
        return _literal(self.host) is not None


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer (`getaddrinfo`, blocking: call it from a worker thread)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def parse_target(url: str) -> httpx.URL:
    """The URL, parsed as httpx will send it: http(s), a host, no credentials, a port in 1-65535."""
    if any(ch <= " " or ch == "\x7f" for ch in url):
        raise TargetRefused("the URL must not contain spaces or control characters", reason="malformed-url")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise TargetRefused("the URL cannot be parsed", reason="malformed-url") from exc
    if parsed.scheme not in ("http", "https"):
        raise TargetRefused("the URL must be http:// or https://", reason="malformed-url")
    if parsed.userinfo:
        raise TargetRefused("the URL must not carry credentials (user:password@)", reason="malformed-url")
    if not parsed.raw_host or "%" in parsed.host:
        raise TargetRefused("the URL must name a host (no IPv6 zone)", reason="malformed-url")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise TargetRefused("the URL's port must be between 1 and 65535", reason="malformed-url")
    return parsed


def _literal(host: str) -> Address | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def _embedded(ip: Address) -> list[IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64): a packet to
    the outer address may well end up at the inner one."""
    if isinstance(ip, IPv4Address):
        return []
    inner: list[IPv4Address] = []
    if ip.ipv4_mapped is not None:
        inner.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        inner.append(ip.sixtofour)
    if ip.teredo is not None:
        inner.extend(ip.teredo)  # (server, client); `ipaddress` already undoes the client's obfuscation
    if int(ip) >> 32 == 0 and int(ip) > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routable by some stacks)
        inner.append(IPv4Address(int(ip)))
    if any(ip in net for net in _NAT64):
        inner.append(IPv4Address(int(ip) & 0xFFFFFFFF))
    return inner


def _kind(ip: Address) -> str | None:
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if isinstance(ip, IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"  # e.g. 100.64.0.0/10 (carrier-grade NAT)
    return None


def address_problem(ip: Address, *, allow_private: bool = False) -> str | None:
    """Why outbound requests may not reach `ip` (e.g. "a loopback address"), or None.

    With `allow_private` (an operator's explicit choice) only the unspecified and multicast
    addresses are refused, which never name one receiver."""
    for candidate in (*_embedded(ip), ip):
        kind = _kind(candidate)
        if kind is None:
            continue
        if allow_private and not (candidate.is_unspecified or candidate.is_multicast):
            continue
        return kind if candidate is ip else f"{kind} ({candidate} embedded in {ip})"
    return None


def check_target(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """Parses `url`, resolves its host (an IP literal is its own answer) and checks EVERY address.

    Raises `TargetRefused` or `HostUnresolvable` (both `InvalidInput`). The detail names an address
    only when the URL itself carried it: what a name resolves to stays inside."""
    parsed = parse_target(url)
    target_host = parsed.raw_host.decode("ascii")
    literal = _literal(target_host)
    if literal is not None:
        addresses: list[Address] = [literal]
    else:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            answers = resolver(target_host, port)
            addresses = [ip_address(a) for a in answers]
        except (OSError, UnicodeError, ValueError) as exc:
            raise HostUnresolvable(f"the host {parsed.host} cannot be resolved") from exc
        if not addresses:
            raise HostUnresolvable(f"the host {parsed.host} cannot be resolved")
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem is None:
            continue
        if literal is not None:
            detail = f"{literal} is {problem}"
        else:
            detail = f"the host {parsed.host} resolves to a non-public address"
        raise TargetRefused(detail, reason="non-public-address")
    return Target(parsed, tuple(dict.fromkeys(addresses)))
