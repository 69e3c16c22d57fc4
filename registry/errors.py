"""The one error hierarchy of the domain package. The API renders every one of them as an
RFC 9457 problem (`application/problem+json`) whose `type` ends with the class's stable `code`."""

from __future__ import annotations

from typing import Any


class TwinmarkError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "internal-error"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class InvalidInput(TwinmarkError):
    code, status, title = "invalid-input", 422, "Invalid input"


class BadRequest(TwinmarkError):
    """Malformed syntax of a request line itself (a CID, a GS1 Digital Link path), where protocols
    speak 400 rather than 422."""

    code, status, title = "bad-request", 400, "Bad request"


class RangeNotSatisfiable(TwinmarkError):
    code, status, title = "range-not-satisfiable", 416, "Range not satisfiable"

    def __init__(self, detail: str = "", *, size: int) -> None:
        super().__init__(detail)
        self.size = size


class PayloadTooLarge(TwinmarkError):
    code, status, title = "payload-too-large", 413, "Payload too large"


class Unauthenticated(TwinmarkError):
    code, status, title = "unauthenticated", 401, "Missing or invalid credentials"


class Forbidden(TwinmarkError):
    code, status, title = "forbidden", 403, "Not allowed"


class NotFound(TwinmarkError):
    code, status, title = "not-found", 404, "Not found"


class Conflict(TwinmarkError):
    code, status, title = "conflict", 409, "Conflict"


class Gone(TwinmarkError):
    code, status, title = "gone", 410, "No longer available"


class TooManyRequests(TwinmarkError):
    code, status, title = "too-many-requests", 429, "Too many attempts"

    def __init__(self, detail: str = "", *, retry_after: int = 60) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class ChainUnavailable(TwinmarkError):
    code, status, title = "chain-unavailable", 503, "Chain node unavailable"


class DatabaseUnavailable(TwinmarkError):
    code, status, title = "database-unavailable", 503, "Database unavailable"


class ContentUnavailable(TwinmarkError):
    code, status, title = "content-unavailable", 503, "Content unavailable"


class ContentNotFound(ContentUnavailable):
    """The store answered and does not hold the block (not an outage: asking again will not help)."""

    code, status, title = "content-not-found", 404, "Content not found"


class ContentIntegrityError(TwinmarkError):
    code, status, title = "content-integrity", 502, "Content does not match its CID"


class ContractReverted(TwinmarkError):
    """A contract call reverted; `name` is the custom error (e.g. `TwinmarkCollectionAlreadyClaimed`)."""

    code, status, title = "contract-reverted", 409, "The contract refused the operation"

    def __init__(self, name: str, args: tuple[Any, ...] = (), raw: bytes = b"") -> None:
        self.name = name
        self.error_args = args
        self.raw = raw
        super().__init__(f"{name}{args!r}" if args else name, error=name)


class ConfigurationError(TwinmarkError):
    """The operator's configuration cannot work (a wrong chain id, an unusable key, no contract)."""

    code, status, title = "configuration", 500, "Service misconfigured"
