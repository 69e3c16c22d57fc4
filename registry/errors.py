"""The one error hierarchy of the domain package; the API renders it as problem+json."""

from __future__ import annotations

from typing import Any


class TwinmarkError(Exception):
    """Base of every error the domain raises on purpose."""

    #: Stable slug, used as the tail of the problem `type` URI.
    code = "twinmark-error"


class ContractReverted(TwinmarkError):
    """A contract call reverted; `name` is the custom error (e.g. `TwinmarkCollectionAlreadyClaimed`)."""

    code = "contract-reverted"

    def __init__(self, name: str, args: tuple[Any, ...] = (), raw: bytes = b"") -> None:
        self.name = name
        self.error_args = args
        self.raw = raw
        super().__init__(f"{name}{args!r}" if args else name)
