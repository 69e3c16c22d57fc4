"""Body limits hold against bodies that declare no length (chunked transfer encoding), over a real
HTTP server: the service stops reading at the limit instead of taking in whatever is sent, and an
upload is not read at all before its key is checked."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from api.limits import PUBLIC_BODY
from api.main import create_app
from tests.api.conftest import Stack
from tests.support.server import serve

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def served(stack: Stack) -> Iterator[str]:
    with serve(create_app(runtime=stack.runtime)) as url:
        yield url


def vm_peak_kib() -> int:
    """The process's peak resident memory (the server runs in this process)."""
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def send_chunked(url: str, total: int, headers: dict[str, str] | None = None) -> tuple[int, int | None]:
    """Streams `total` bytes with no declared length; (bytes the client got to send, answer status)."""
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        chunk = b"A" * (256 * 1024)
        while sent < total:
            sent += len(chunk)
            yield chunk

    try:
        r = httpx.post(url, content=body(), headers=(headers or {}) | {"content-type": "application/json"}, timeout=30)
    except httpx.HTTPError:  # the server may close the connection while the client still writes
        return sent, None
    return sent, r.status_code


def answer_before_body_end(base: str, path: str, headers: dict[str, str], sent: int = 64 * 1024) -> bytes:
    """Sends headers and `sent` bytes of a chunked body that never ends; the status line the server
    answers with meanwhile (it must not wait for the rest of the body to answer)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        conn.sendall(head.encode())
        chunk = b"A" * 4096
        for _ in range(sent // len(chunk)):
            conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        return conn.recv(200).split(b"\r\n")[0]  # the body is never finished


def test_a_chunked_body_is_answered_at_its_limit_not_at_its_end(served: str) -> None:
    claim = f"/v1/twins/0x{'11' * 20}/1/claim"
    status = answer_before_body_end(served, claim, {"content-type": "application/json"})
    assert status.startswith(b"HTTP/1.1 413 "), status


def test_a_300_mib_chunked_body_does_not_grow_the_server(served: str) -> None:
    before = vm_peak_kib()
    total = 300 * MiB
    sent, status = send_chunked(f"{served}/v1/twins/0x{'11' * 20}/1/claim", total)
    assert status in (413, None)
    assert sent == total  # the client got it all out: the server drained it without keeping it
    assert vm_peak_kib() - before < 64 * 1024, "the server's memory grew with the body"
    r = httpx.post(f"{served}/v1/twins/0x{'11' * 20}/1/claim", content=iter([b"x" * (PUBLIC_BODY + 1)]), timeout=10)
    assert r.status_code == 413 and r.json()["type"].endswith("/payload-too-large")


def test_an_upload_is_not_read_before_its_key_is_checked(served: str) -> None:
    headers = {"authorization": "Bearer tmk_bad", "content-type": "multipart/form-data; boundary=x"}
    status = answer_before_body_end(served, "/v1/assets", headers)
    assert status == b"HTTP/1.1 401 Unauthorized", status
