"""What the HTTP server is trusted with: who the client is, and how long a connection may take to say
what it wants.

Client address. Per-client limits key on it, so it is decided here, in one place, from the peer
address and `X-Forwarded-For`: the header counts only when the peer is a proxy named in
`TWINMARK_TRUSTED_PROXIES`, and then it is walked from the right, over trusted hops, to the first
address that is not a trusted proxy. uvicorn's own proxy handling (on by default, trusting loopback)
is switched off by `twinmark serve`; a server that still replaced the peer with a header value is
noticed (the "peer" is then one of the header's entries) and such requests share one key.

Slow requests. uvicorn bounds the time between requests on a kept-alive connection, not the time a
request head may take: a connection that sends half a head stays open for ever. The protocols below
close a connection whose head is not complete `header_timeout` seconds after it opened (or after the
first byte of a later request), and cap the head's size for httptools as h11 already does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol

from registry.settings import Settings

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Requests whose peer address the server already replaced from a header (so the real peer is unknown).
UNVERIFIED = "forwarded-unverified"


# ------------------------------------------------------------------ client address


@lru_cache(maxsize=8)
def trusted_networks(spec: str) -> tuple[Network, ...]:
    """`TWINMARK_TRUSTED_PROXIES` parsed: comma-separated addresses and CIDR networks."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _host_port(text: str) -> tuple[str, int]:
    """A header entry's host and port (0 when it names none): `1.2.3.4`, `1.2.3.4:5678`, `[::1]:5678`, `::1`.
    The port is read with int(), as uvicorn reads it ("+1", " 7" and "5_0" are ports to it): a peer it
    made from an entry must be found in the header again."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        host, rest = text[1:].split("]", 1)
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        return text, 0
    try:
        return host, int(port)
    except ValueError:
        return host, 0


def _address(text: str) -> Address | None:
    """The address of a peer or of a header entry (without its port), if it is one."""
    text = _host_port(text)[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: Address | None, trusted: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in trusted)


def _key(address: Address | None, raw: str) -> str:
    """The limit key of an address: IPv6 clients by their /64 (one subscriber's usual allocation, every
    address of which it may use), IPv4 as is; a non-address entry as sent, shortened."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address) if address is not None else raw.strip()[:64] or "unknown"


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    entries: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            entries.extend(part.strip() for part in value.decode("latin-1").split(","))
    return [e for e in entries if e]


def _replaced_by(entry: str, host: str, port: int, address: Address | None) -> bool:
    """Whether the peer (host, port; `address` parsed from host) is this header entry, as a server
    taking the client from the header sets it: the entry's host (as written, or the same address) and
    its port, or 0 (a real TCP peer never has port 0, and a real port equal to an entry's is the
    client's own doing), or the whole entry. Ports are compared first: most entries cost no address
    parsing."""
    if entry == host and port == 0:
        return True
    entry_host, entry_port = _host_port(entry)
    if entry_port != port:
        return False
    # uvicorn keeps a host that is no address ("client-1:7" gives "client-1", 7)
    return entry_host == host or (address is not None and _address(entry_host) == address)


_warned = False


def client_key(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The key per-client limits count this request under (module docstring)."""
    global _warned
    client = scope.get("client")
    peer_text = str(client[0]) if client else ""
    forwarded = _forwarded_for(scope.get("headers", ()))
    peer = _address(peer_text)
    if client and any(_replaced_by(entry, client[0], client[1], peer) for entry in forwarded):
        # The server (uvicorn --proxy-headers, its default) put a header entry in the peer's place: who
        # connected is unknown, so the header cannot be checked against the trusted proxies.
        if not _warned:
            _warned = True
            log.warning(
                "the server replaced the client address from X-Forwarded-For: run uvicorn with "
                "--no-proxy-headers (twinmark serve does) and name proxies in TWINMARK_TRUSTED_PROXIES; "
                "until then these requests share one rate-limit key"
            )
        return UNVERIFIED
    if not _trusted(peer, trusted) or not forwarded:
        return _key(peer, peer_text or "unknown")
    for entry in reversed(forwarded):
        hop = _address(entry)
        if not _trusted(hop, trusted):
            return _key(hop, entry)
    return _key(_address(forwarded[0]), forwarded[0])  # every hop a trusted proxy: the first one


# ------------------------------------------------------------------ slow request heads


@lru_cache(maxsize=1)
def _environment_limits() -> tuple[float, int, int, str]:
    """Head deadline, size cap, connections per client and trusted proxies from the environment, for a
    uvicorn started with `--http api.server:...`."""
    settings = Settings()
    return (
        settings.header_timeout_seconds,
        settings.max_header_bytes,
        settings.max_connections_per_client,
        settings.trusted_proxies,
    )


class _OpenConnections:
    """Open connections per peer (IPv4 address, IPv6 /64), across the servers of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def take(self, peer: str, cap: int) -> bool:
        with self._lock:
            if self._open.get(peer, 0) >= cap:
                return False
            self._open[peer] = self._open.get(peer, 0) + 1
            return True

    def give_back(self, peer: str) -> None:
        with self._lock:
            left = self._open.get(peer, 1) - 1
            if left > 0:
                self._open[peer] = left
            else:
                self._open.pop(peer, None)


_open_connections = _OpenConnections()


def _peer_key(transport: asyncio.BaseTransport, trusted: str) -> str | None:
    """The peer a connection counts against, or None when it is not capped (a trusted proxy carries many
    clients; a unix socket names no peer)."""
    peer = transport.get_extra_info("peername")
    if not isinstance(peer, tuple) or not peer:
        return None
    address = _address(str(peer[0]))
    if address is None or _trusted(address, trusted_networks(trusted)):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class _HeadDeadline:
    """Closes a connection whose request head is not complete in time (mixed into uvicorn's protocols)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    header_timeout: float | None = None  # None: TWINMARK_HEADER_TIMEOUT_SECONDS
    max_per_client: int | None = None  # None: TWINMARK_MAX_CONNECTIONS_PER_CLIENT
    trusted_proxies: str | None = None  # None: TWINMARK_TRUSTED_PROXIES
    _head_timer: asyncio.TimerHandle | None = None
    _counted_peer: str | None = None

    def _admit(self) -> bool:
        """Counts the connection against its peer; False (and the connection answered 503 and closed)
        past TWINMARK_MAX_CONNECTIONS_PER_CLIENT. Bodies have no deadline here, so without this one
        client holding connections whose bodies never end would fill the server's connection cap."""
        if self.max_per_client is None or self.trusted_proxies is None:
            _, _, cap, trusted = _environment_limits()
        else:
            cap, trusted = self.max_per_client, self.trusted_proxies
        peer = _peer_key(self.transport, trusted)
        if peer is None:
            return True
        if not _open_connections.take(peer, cap):
            self.transport.write(
                b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n"
            )
            self.transport.close()
            return False
        self._counted_peer = peer
        return True

    def _release_peer(self) -> None:
        if self._counted_peer is not None:
            _open_connections.give_back(self._counted_peer)
            self._counted_peer = None

    def _arm_head_deadline(self) -> None:
        if self._head_timer is None:
            timeout = self.header_timeout if self.header_timeout is not None else _environment_limits()[0]
            self._head_timer = self.loop.call_later(timeout, self._head_expired)

    def _disarm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
            self.transport.close()


class HeadTimeoutH11Protocol(_HeadDeadline, H11Protocol):
    """uvicorn's h11 protocol with a deadline on request heads (h11 already caps their size)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._admit():
            self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_head(received=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_head(received=bool(self.conn.trailing_data[0]))  # a pipelined head, maybe partial

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        self._release_peer()
        super().connection_lost(exc)

    def _follow_head(self, *, received: bool) -> None:
        # IDLE: h11 waits for (the rest of) a request line and headers. Only bytes received start the
        # clock on a kept-alive connection; an idle one is left to uvicorn's keep-alive timeout.
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_deadline()
        elif received and not self.transport.is_closing():
            self._arm_head_deadline()


def _httptools_protocol() -> type[asyncio.Protocol] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional for uvicorn
        return None

    class HeadTooLarge(Exception):
        pass

    class HeadTimeoutHttpToolsProtocol(_HeadDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with a deadline on request heads and a cap on their size (which
        uvicorn's httptools protocol lacks: a header value kept coming would be buffered without end)."""

        max_head_bytes: int | None = None  # None: TWINMARK_MAX_HEADER_BYTES
        _head_bytes = 0  # received while a head is incomplete
        _head_too_large = False

        def _cap(self) -> int:
            return self.max_head_bytes if self.max_head_bytes is not None else _environment_limits()[1]

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self._admit():
                self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_deadline()
            self._release_peer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            # Counted when a head was under way before and still is after: all of `data` is head then
            # (a read holding a previous request's body is not counted; on_headers_complete checks the
            # whole head anyway).
            under_way = self._head_timer is not None
            super().data_received(data)
            if under_way and self._head_timer is not None and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > self._cap():
                    self._refuse_head()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_head_deadline()

        def on_headers_complete(self) -> None:
            self._disarm_head_deadline()
            self._head_bytes = 0
            if len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) > self._cap():
                self._head_too_large = True
                raise HeadTooLarge  # stops the parser; uvicorn answers through send_400_response
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            if self._head_too_large:
                self._refuse_head()
            else:
                super().send_400_response(msg)

        def _refuse_head(self) -> None:
            self._disarm_head_deadline()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
            )
            self.transport.close()

    return HeadTimeoutHttpToolsProtocol


HeadTimeoutHttpToolsProtocol = _httptools_protocol()
# For `uvicorn api.asgi:app --http api.server:HeadTimeoutProtocol` (limits from the environment).
HeadTimeoutProtocol = HeadTimeoutHttpToolsProtocol or HeadTimeoutH11Protocol


def protocol_class(settings: Settings, kind: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's protocol (httptools when installed, as uvicorn's "auto"; or `kind`) with the head
    deadline and size cap of `settings`."""
    base: type[Any] = (
        HeadTimeoutHttpToolsProtocol
        if kind != "h11" and HeadTimeoutHttpToolsProtocol is not None
        else HeadTimeoutH11Protocol
    )
    attributes = {
        "header_timeout": settings.header_timeout_seconds,
        "max_head_bytes": settings.max_header_bytes,
        "max_per_client": settings.max_connections_per_client,
        "trusted_proxies": settings.trusted_proxies,
    }
    return type(base.__name__, (base,), attributes)


def uvicorn_config(app: ASGIApp, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The server `twinmark serve` runs: no proxy header handling of its own (the app decides the client,
    `client_key`), a connection cap, a listen backlog, and deadlines and caps on request heads."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "proxy_headers": False,
        "http": protocol_class(settings),
        "limit_concurrency": settings.max_connections,
        "backlog": settings.listen_backlog,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
    return uvicorn.Config(app, **(options | overrides))
