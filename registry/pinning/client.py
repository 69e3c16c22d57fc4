"""A client of the IPFS Pinning Service API (v1.0.0, ipfs/pinning-services-api-spec): add a pin, read
one by request id, find pins by CID. Requests go through the outbound guard (`registry.net`): the
endpoint must be a public address unless the operator opted in. Answers are read up to a limit and
checked against the spec's shapes; whatever goes wrong is a `PinServiceError` whose `kind` is a coarse
class (never the answer's text, never the token) and whose `retry_after` carries a 429's or 503's
`Retry-After`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from registry.net.client import BodyTooLarge, GuardedClient, failure_class
from registry.net.guard import HostUnresolvable, TargetRefused
from registry.pinning.schemas import PinResults, PinStatus
from registry.settings import PinProvider

T = TypeVar("T", PinStatus, PinResults)
MAX_BODY = 1024 * 1024  # a PinResults of 1,000 statuses is well under this
_ALL = "queued,pinning,pinned,failed"  # without `status`, a service lists only pinned ones


class PinServiceError(Exception):
    """`kind`: timeout, refused, tls, network, blocked, unresolvable, http-<status>, invalid-response,
    too-large. Retryable ones (transport, 5xx, 429) are tried again with backoff; the others too, but
    they need the operator (a wrong token, a refused request) and are logged as such."""

    def __init__(self, kind: str, *, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in ("timeout", "refused", "network", "http-429", "too-large", "invalid-response") or (
            self.kind.startswith("http-5")
        )


def retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class PsaClient:
    def __init__(self, provider: PinProvider, http: GuardedClient, *, timeout: float) -> None:
        self.name = provider.name
        self._base = provider.endpoint.rstrip("/")
        self._token = provider.token
        self._http = http
        self._timeout = timeout

    def add(self, cid: str, *, name: str, origins: list[str]) -> PinStatus:
        """POST /pins: the provider's status of the new request (202)."""
        pin: dict[str, object] = {"cid": cid, "name": name[:255], "meta": {"app": "twinmark"}}
        if origins:
            pin["origins"] = origins[:20]
        body = self._call("POST", "/pins", json.dumps(pin).encode(), expect=202)
        return self._parse(PinStatus, body)

    def get(self, request_id: str) -> PinStatus | None:
        """GET /pins/{requestid}; None when the provider no longer knows the request (404)."""
        try:
            # Quoted whole: the id is the provider's text, and must stay one path segment.
            body = self._call("GET", f"/pins/{quote(request_id, safe='')}", expect=200)
        except PinServiceError as exc:
            if exc.kind == "http-404":
                return None
            raise
        return self._parse(PinStatus, body)

    def find(self, cid: str) -> list[PinStatus]:
        """GET /pins?cid=...: this access token's requests for `cid`, in any status."""
        query = httpx.QueryParams({"cid": cid, "status": _ALL, "limit": "1000"})
        body = self._call("GET", f"/pins?{query}", expect=200)
        return self._parse(PinResults, body).results

    def _call(self, method: str, path: str, content: bytes = b"", *, expect: int) -> bytes:
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}", "Accept": "application/json"}
        if content:
            headers["Content-Type"] = "application/json"
        try:
            response, body = self._http.fetch(
                method, self._base + path, content=content, headers=headers, limit=MAX_BODY, seconds=self._timeout
            )
        except BodyTooLarge:
            raise PinServiceError("too-large") from None
        except HostUnresolvable:
            raise PinServiceError("unresolvable") from None
        except (httpx.HTTPError, TargetRefused, OSError) as exc:
            raise PinServiceError(failure_class(exc)) from None
        if response.status_code != expect:
            wait = retry_after(response.headers.get("retry-after"))
            raise PinServiceError(f"http-{response.status_code}", retry_after=wait)
        return body

    @staticmethod
    def _parse(model: type[T], body: bytes) -> T:
        try:
            return model.model_validate_json(body)
        except ValidationError:
            raise PinServiceError("invalid-response") from None
