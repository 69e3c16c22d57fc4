"""The pinning client's small parts: Retry-After, which multiaddrs go out as `origins` (a Kubo-like
node's own `/id` served over real HTTP), and which failures are retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from registry.ipfs.store import KuboStore
from registry.pinning.client import PinServiceError, retry_after
from registry.pinning.service import public_origins
from tests.support.server import serve

PEER = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("7") == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(later) or 0) <= 31
    assert retry_after("soon") is None and retry_after(None) is None and retry_after("") is None


def test_only_transient_failures_are_called_retryable() -> None:
    for kind in ("timeout", "refused", "http-503", "http-500", "http-429", "invalid-response"):
        assert PinServiceError(kind).retryable, kind
    for kind in ("http-401", "http-400", "http-409", "blocked", "unresolvable"):
        assert not PinServiceError(kind).retryable, kind


def test_origins_are_the_nodes_public_addresses_only() -> None:
    async def ident(request: Request) -> JSONResponse:
        addresses = [
            "/ip4/127.0.0.1/tcp/4001",
            "/ip4/10.1.2.3/tcp/4001",
            "/ip4/203.0.114.7/tcp/4001",  # outside the documentation ranges: public
            "/ip6/::1/tcp/4001",
            "/ip6/2a01:4f8::1/udp/4001/quic-v1",
            "/dns4/node.example.com/tcp/4001",
        ]
        return JSONResponse({"ID": PEER, "Addresses": addresses})

    app = Starlette(routes=[Route("/api/v0/id", ident, methods=["POST"])])
    with serve(app) as url:
        announced = KuboStore(url).addresses()
    assert all(a.endswith(f"/p2p/{PEER}") for a in announced)
    assert public_origins(announced) == [
        f"/ip4/203.0.114.7/tcp/4001/p2p/{PEER}",
        f"/ip6/2a01:4f8::1/udp/4001/quic-v1/p2p/{PEER}",
        f"/dns4/node.example.com/tcp/4001/p2p/{PEER}",
    ]
    assert public_origins(["/ip4/203.0.114.7/tcp/4001"]) == []  # no peer id: useless to a service
