"""Rendered verification pages, kept so that a warm page is a dictionary lookup and a join of bytes.

A page is kept per (twin, language) for the one head block its verdict was read at, and only when
that verdict passed and no tap verdict is on it: the same rule as the verifier's reused answers (a
failing verdict, which may be a passing one behind a flaky gateway, is always recomputed). A new head
block (a transfer, a stolen report, a burn, a content update: anything on chain) makes every kept
page stale at once; the head watcher sees a block within its poll interval (0.2 s) and the service's
own transactions at once. `ttl` bounds an entry's life if the head ever stopped moving (a node gone
quiet), as the verifier's answers are bounded. State kept off chain that a page shows must call
`forget` when it changes.

What varies per request is never in an entry: the language links (the request's path and query) are
slots filled in per request, and a page with a tap verdict (bound to one browser's cookie) is never
kept. Headers and cookies are set per response, outside the cache."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from cachetools import TTLCache
from markupsafe import escape

from registry.pages.locale import LANGUAGES

TTL_SECONDS = 60.0
ENTRIES = 20_000


@dataclass(frozen=True)
class Rendered:
    """A rendered page around its slots: `parts[0] + href(slots[0]) + parts[1] + ...`."""

    block: int  # the head block its verdict was read at
    status: int
    parts: tuple[bytes, ...]
    slots: tuple[str, ...]  # the language each slot links to

    @classmethod
    def split(cls, html: str, marker: str, *, block: int, status: int) -> Rendered:
        """A page rendered with `marker + lang + marker` in place of each language link's href."""
        pieces = html.split(marker)
        return cls(block, status, tuple(p.encode() for p in pieces[0::2]), tuple(pieces[1::2]))

    def body(self, hrefs: Mapping[str, str]) -> bytes:
        """The page with this request's language links (escaped as the template escapes them)."""
        out = [self.parts[0]]
        for lang, part in zip(self.slots, self.parts[1:], strict=True):
            out.append(str(escape(hrefs[lang])).encode())
            out.append(part)
        return b"".join(out)


class PageCache:
    def __init__(self, entries: int = ENTRIES, ttl: float = TTL_SECONDS) -> None:
        self._pages: TTLCache[tuple[str, int, str], Rendered] = TTLCache(entries, ttl)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def get(self, contract: str, token_id: int, lang: str, head: int) -> Rendered | None:
        """The kept page of this twin in `lang` if it was made at block `head` (the current one)."""
        with self._lock:
            page = self._pages.get((contract, token_id, lang))
        return page if page is not None and page.block == head else None

    def put(self, contract: str, token_id: int, lang: str, page: Rendered) -> None:
        with self._lock:
            kept = self._pages.get((contract, token_id, lang))
            if kept is None or kept.block <= page.block:  # a slower render of an older head does not win
                self._pages[(contract, token_id, lang)] = page

    def forget(self, contract: str, token_id: int) -> None:
        """Drops the twin's pages in every language (for state a page shows that is not on chain)."""
        with self._lock:
            for lang in LANGUAGES:
                self._pages.pop((contract, token_id, lang), None)
