"""Which language a page is in: an explicit `?lang=` wins, then the language an in-app browser names in
its user agent (WeChat's `Language/zh_CN`), then the best `Accept-Language` match, then English. Two
languages are offered: English and Simplified Chinese (`zh-CN`)."""

from __future__ import annotations

import re

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


# WeChat's in-app browser (and WeCom's, which carries the same token) ends its user agent with the
# language the reader set in WeChat: `... MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN`.
_APP_LANGUAGE = re.compile(r"\bLanguage/([A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*)")


def app_language(user_agent: str | None) -> str | None:
    """The language tag (BCP 47 form) WeChat's in-app browser names in `user_agent`, or None. Only
    WeChat's (`MicroMessenger/`): another agent's `Language/` token means nothing known."""
    if not user_agent or "MicroMessenger/" not in user_agent:
        return None
    found = _APP_LANGUAGE.search(user_agent[:1024])  # bounded: a header is client input
    return found.group(1).replace("_", "-") if found else None


def negotiate(accept_language: str | None, explicit: str | None = None, app: str | None = None) -> str:
    """The page's language: `explicit` (a `?lang=` value) when it names an offered one, else `app` (the
    in-app browser's language, `app_language`) when offered, else the client's most preferred offered
    language in `Accept-Language`, else English. The app's language goes first: WeChat's web view sends
    the phone's system languages in `Accept-Language`, while its user agent names the language the reader
    chose in WeChat, the one the link arrived in."""
    for choice in (explicit, app):
        chosen = _supported(choice) if choice else None
        if chosen is not None:
            return chosen
    for tag, _ in parse_accept_language(accept_language or ""):
        if tag == "*":
            return DEFAULT
        chosen = _supported(tag)
        if chosen is not None:
            return chosen
    return DEFAULT
