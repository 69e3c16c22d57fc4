"""Which language a page is in: an explicit `?lang=` wins, then the best `Accept-Language` match,
then English. Two languages are offered: English and Simplified Chinese (`zh-CN`)."""

from __future__ import annotations

LANGUAGES = ("en", "zh-CN")
DEFAULT = "en"


def _supported(tag: str) -> str | None:
    """The offered language for a BCP 47 tag, or None. Any Chinese tag gets `zh-CN`: the only Chinese
    offered, and closer to a zh-TW reader than English is."""
    primary = tag.strip().lower().split("-")[0]
    if primary == "en":
        return "en"
    if primary == "zh":
        return "zh-CN"
    return None


def parse_accept_language(header: str) -> list[tuple[str, float]]:
    """(value, q) pairs of an `Accept-Language` (or `Accept`) header, best first (stable for equal q);
    q=0 and malformed parts are skipped, never an error."""
    found: list[tuple[str, float, int]] = []
    for position, part in enumerate(header.split(",")[:32]):  # bounded: a header is client input
        tag, *params = (p.strip() for p in part.split(";"))
        if not tag:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if 0 < q <= 1:
            found.append((tag, q, position))
    found.sort(key=lambda item: (-item[1], item[2]))
    return [(tag, q) for tag, q, _ in found]


def negotiate(accept_language: str | None, explicit: str | None = None) -> str:
    """The page's language: `explicit` (a `?lang=` value) when it names an offered one, else the
    client's most preferred offered language, else English."""
    if explicit:
        chosen = _supported(explicit)
        if chosen is not None:
            return chosen
    for tag, _ in parse_accept_language(accept_language or ""):
        if tag == "*":
            return DEFAULT
        chosen = _supported(tag)
        if chosen is not None:
            return chosen
    return DEFAULT
