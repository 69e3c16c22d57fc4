"""A console list's page from the cursor in the query (`registry.dashboard.lists`). A cursor the
service never gave is a 422: a problem+json for a script, and for a browser the page itself, saying
so above the list, which starts again from the newest rows (a stale bookmark still lands somewhere)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request

from registry.errors import InvalidInput

T = TypeVar("T")
MAX_CURSOR = 120  # longer than any cursor given: refused before anything parses it


@dataclass(frozen=True)
class Paged(Generic[T]):
    rows: list[T]
    next: str | None  # the next page's cursor; None on the last page
    refused: bool = False  # the query's cursor was refused: these are the first page's rows


def paged(request: Request, name: str, fetch: Callable[[str | None], tuple[list[T], str | None]]) -> Paged[T]:
    cursor = request.query_params.get(name) or None
    try:
        if cursor is not None and len(cursor) > MAX_CURSOR:
            raise InvalidInput("cursor is not one this service gave")
        return Paged(*fetch(cursor))
    except InvalidInput as exc:
        if "text/html" not in request.headers.get("accept", ""):
            raise InvalidInput(f"{name}: {exc.detail}") from None
        return Paged(*fetch(None), refused=True)
