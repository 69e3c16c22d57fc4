"""Sends requests to checked targets: to the address that was checked, named as the user named it.

Every request is checked again (`guard.check_target`) right before it is sent, and goes to an
address of that check: the URL's host is replaced by the IP, the original name travels in the
`Host` header and, for https, as the TLS server name, which is also the name the certificate must
match (httpcore's `sni_hostname` extension is what it passes to `ssl` as `server_hostname`, and
httpx's SSL context checks host names). No name is resolved again, so DNS rebinding cannot move the
connection elsewhere. Redirects are never followed, proxies from the environment are ignored (a
proxy would resolve the name itself), and connections are not kept alive (a pooled connection is
keyed by IP and port only, so it must not carry a request for another name).

Failures are reduced to coarse classes (`FAILURE_CLASSES`): whatever reaches a user must not tell
open from filtered ports, or echo an internal host's error text.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping

import httpx

from registry.net.guard import Resolver, Target, TargetRefused, check_target, system_resolver

FAILURE_CLASSES = ("blocked", "timeout", "refused", "tls", "network")


class BodyTooLarge(Exception):
    """An answer's body went past the reader's limit (`GuardedClient.fetch`)."""


def failure_class(exc: BaseException) -> str:
    """`blocked` (target not allowed), `timeout`, `refused`, `tls` or `network`: never the text."""
    if isinstance(exc, TargetRefused):
        return "blocked"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    seen: BaseException | None = exc
    for _ in range(10):  # the chain httpx -> httpcore -> OSError / ssl is three links long
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return "tls"
        if isinstance(seen, ConnectionRefusedError):
            return "refused"
        seen = seen.__cause__ or seen.__context__
    return "network"


class GuardedClient:
    """POSTs (or any method) to user-supplied URLs under `guard.check_target`. Thread-safe."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            verify=verify,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def check(self, url: str) -> Target:
        """Raises `guard.TargetRefused` or `guard.HostUnresolvable`; resolves names (blocking)."""
        return check_target(url, allow_private=self.allow_private, resolver=self.resolver)

    def request(
        self, method: str, url: str, *, content: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """Checks `url`, then sends to its checked addresses in turn until one accepts the connection
        (nothing was sent to the ones that refused). The answer's body is not read: the response
        comes back closed, with its status and headers."""
        response = self._open(method, url, content, headers)
        response.close()
        return response

    def fetch(
        self,
        method: str,
        url: str,
        *,
        limit: int,
        seconds: float,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """As `request`, and reads the answer's body: at most `limit` bytes (decoded; `BodyTooLarge`
        beyond, the rest unread) within `seconds` overall (a body dripping in times out)."""
        response = self._open(method, url, content, headers)
        started = time.monotonic()
        body = bytearray()
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(f"the answer declares {declared} bytes, more than {limit}")
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise BodyTooLarge(f"the answer is larger than {limit} bytes")
                if time.monotonic() - started > seconds:
                    raise httpx.ReadTimeout("the answer's body took too long")
        finally:
            response.close()
        return response, bytes(body)

    def _open(self, method: str, url: str, content: bytes, headers: Mapping[str, str] | None) -> httpx.Response:
        target = self.check(url)
        failure: httpx.ConnectError | None = None
        for address in target.addresses:
            request = self._pinned(method, target, str(address), content, headers or {})
            try:
                return self.http.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as exc:
                failure = exc
                continue
        assert failure is not None  # a target has at least one address
        raise failure

    def post(self, url: str, *, content: bytes, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return self.request("POST", url, content=content, headers=headers)

    def _pinned(
        self, method: str, target: Target, address: str, content: bytes, headers: Mapping[str, str]
    ) -> httpx.Request:
        extensions = {}
        if target.url.scheme == "https" and not target.is_literal:
            extensions["sni_hostname"] = target.host.rstrip(".")
        sent_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
        sent_headers["Host"] = target.url.netloc.decode("ascii")
        return self.http.build_request(
            method, target.url.copy_with(host=address), content=content, headers=sent_headers, extensions=extensions
        )

    def close(self) -> None:
        self.http.close()
