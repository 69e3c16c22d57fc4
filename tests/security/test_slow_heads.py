"""Connections that never finish their request head are closed after TWINMARK_HEADER_TIMEOUT_SECONDS
while real requests keep being answered; heads are capped in size. Against the uvicorn `twinmark
serve` runs (api.server.uvicorn_config), with each of its protocols (httptools, as uvicorn's "auto"
picks when installed, and h11)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.server import protocol_class, uvicorn_config
from registry.chain.anvil import free_port
from registry.settings import Settings

TIMEOUT = 1.0
HALF_OPEN = 50


async def hello(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"got {len(await request.body())}")


APP = Starlette(routes=[Route("/", hello), Route("/echo", echo, methods=["POST"])])


@contextmanager
def server(kind: str, **settings: Any) -> Iterator[tuple[str, int]]:
    config_settings = Settings(**({"header_timeout_seconds": TIMEOUT} | settings))
    port = free_port()
    config = uvicorn_config(
        APP, config_settings, host="127.0.0.1", port=port, http=protocol_class(config_settings, kind)
    )
    running = uvicorn.Server(config)
    threading.Thread(target=running.run, daemon=True).start()
    while not running.started:
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        running.should_exit = True


def half_open(address: tuple[str, int], count: int, head: bytes, source: str = "") -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.create_connection(address, source_address=(source, 0) if source else None)
        s.sendall(head)
        s.settimeout(TIMEOUT * 5)
        sockets.append(s)
    return sockets


def closed_by_server(s: socket.socket) -> bool:
    """True once the server closed the connection (reads to EOF, whatever it wrote before)."""
    try:
        while chunk := s.recv(4096):
            del chunk
        return True
    except (ConnectionResetError, TimeoutError):
        return False


def refused_or_closed(s: socket.socket) -> bool:
    """True when the server answered 503 or closed (a reset counts: it closed with our body unread)."""
    s.settimeout(0.3)
    try:
        first = s.recv(4096)
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return first == b"" or first.startswith(b"HTTP/1.1 503")


KINDS = pytest.mark.parametrize("kind", ["httptools", "h11"])


@KINDS
def test_half_open_connections_are_closed_after_the_header_timeout(kind: str) -> None:
    with server(kind) as address:
        started = time.monotonic()
        # Half a head, or nothing at all: before, both stayed open for as long as the client liked.
        stalled = half_open(address, HALF_OPEN, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        stalled += half_open(address, 5, b"")
        # Meanwhile a real request is answered at once.
        assert httpx.get(f"http://{address[0]}:{address[1]}/", timeout=TIMEOUT / 2).text == "hello"
        assert all(closed_by_server(s) for s in stalled)
        elapsed = time.monotonic() - started
        assert TIMEOUT * 0.9 <= elapsed < TIMEOUT * 4, elapsed
        for s in stalled:
            s.close()


@KINDS
def test_a_slow_head_on_a_kept_alive_connection_is_closed_too(kind: str) -> None:
    with server(kind) as address:
        s = socket.create_connection(address)
        s.settimeout(TIMEOUT * 5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"hello" not in answer and (chunk := s.recv(4096)):  # head and body may come in two segments
            answer += chunk
        assert b"hello" in answer
        started = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the second head never ends
        assert closed_by_server(s)
        assert time.monotonic() - started < TIMEOUT * 3
        s.close()


@KINDS
def test_a_head_sent_slowly_but_in_time_is_answered(kind: str) -> None:
    with server(kind) as address:
        s = socket.create_connection(address)
        s.settimeout(TIMEOUT * 5)
        for part in (b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            s.sendall(part)
            time.sleep(TIMEOUT / 4)
        assert b"200 OK" in s.recv(4096)
        s.close()


@KINDS
def test_a_flood_past_the_connection_cap_is_answered_503_until_the_timeout_frees_it(kind: str) -> None:
    with server(kind, max_connections=20) as address:
        stalled = half_open(address, 30, b"GET / HTTP/1.1\r\n")
        url = f"http://{address[0]}:{address[1]}/"
        assert httpx.get(url).status_code == 503  # the cap holds: uvicorn answers, nothing piles up
        time.sleep(TIMEOUT * 1.5)
        assert httpx.get(url).text == "hello"  # the stalled ones were closed
        for s in stalled:
            s.close()


@KINDS
def test_an_oversized_head_is_refused(kind: str) -> None:
    with server(kind, max_header_bytes=4096) as address:
        s = socket.create_connection(address)
        s.settimeout(TIMEOUT * 5)
        # A header value that keeps coming: refused once the incomplete head passes the cap.
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192)
        answer = s.recv(4096)
        assert answer.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")), answer
        assert closed_by_server(s)
        s.close()


def test_an_oversized_head_in_one_piece_is_refused_too() -> None:
    # httptools (what uvicorn picks when installed) has no cap of its own; h11 caps only heads still
    # incomplete after a read, so a whole head is bounded by the read size there.
    with server("httptools", max_header_bytes=4096) as address:
        r = httpx.get(f"http://{address[0]}:{address[1]}/", headers={"X-Big": "a" * 8192})
        assert r.status_code == 431
        assert httpx.get(f"http://{address[0]}:{address[1]}/", headers={"X-Fine": "a" * 2048}).text == "hello"


@KINDS
def test_bodies_that_never_end_do_not_hold_the_connection_cap(kind: str) -> None:
    """One client (127.0.0.11) sends complete heads whose bodies never end: it holds at most its own
    share of connections, the rest are answered 503 at once, and another client is served."""
    with server(kind, max_connections=20, max_connections_per_client=10) as address:
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"
        stalled = half_open(address, 25, head, source="127.0.0.11")
        time.sleep(TIMEOUT * 3)
        assert httpx.get(f"http://{address[0]}:{address[1]}/").text == "hello"
        refused = [s for s in stalled if refused_or_closed(s)]
        assert len(refused) == 15  # the 10 within its share stay open (the body is the proxy's to time)
        for s in stalled:
            s.close()
        # Given back when they close: the same client is served again.
        time.sleep(0.2)
        local = httpx.HTTPTransport(local_address="127.0.0.11")
        with httpx.Client(transport=local) as again:
            assert again.get(f"http://{address[0]}:{address[1]}/").text == "hello"
