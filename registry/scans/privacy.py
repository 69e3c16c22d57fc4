"""What a scan keeps of the person behind it, made coarse before anything else sees it: the client's
network (IPv4 /24, IPv6 /48), a keyed hash of the first-party session cookie, and a user-agent class."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from functools import lru_cache

SESSION_REF = re.compile(r"[0-9a-f]{32}")


def network(client: str | None) -> str | None:
    """The network a client key (`api.server.client_key`: an address, an IPv6 /64, or a non-address
    such as "testclient") falls in: IPv4 /24, IPv6 /48; None for anything that is not an address."""
    if not client:
        return None
    octets = client.split(".")
    if len(octets) == 4 and all(o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets):
        return f"{octets[0]}.{octets[1]}.{octets[2]}.0/24"  # the common case, without ipaddress's cost
    try:
        found = ipaddress.ip_network(client.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Network):
        mapped = found.network_address.ipv4_mapped
        if mapped is None:
            return str(found.supernet(new_prefix=48)) if found.prefixlen > 48 else str(found)
        found = ipaddress.ip_network(f"{mapped}/32")
    return str(found.supernet(new_prefix=24)) if found.prefixlen > 24 else str(found)


def session_key(server_key: str) -> bytes:
    """The key sessions are hashed under (one of its own, derived from the server key)."""
    return hashlib.sha256(b"twinmark:scan-session:" + server_key.encode()).digest()


def session(key: bytes, cookie: str | None) -> str | None:
    """The stored session of a browser id cookie: 128 bits of HMAC, hex (never the cookie, which binds
    tap tickets)."""
    if not cookie:
        return None
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()[:32]


# Order matters: WeChat's browser and bots also name the platform they run on.
_AGENTS = (
    ("wechat", re.compile(r"MicroMessenger", re.I)),
    (
        "bot",
        re.compile(
            r"bot\b|bot/|crawl|spider|slurp|preview|facebookexternalhit|whatsapp|curl/|wget/|python-|httpx|"
            r"aiohttp|go-http-client|okhttp|java/|libwww|headless|lighthouse|scrapy|axios/|node-fetch",
            re.I,
        ),
    ),
    ("ios", re.compile(r"iPhone|iPad|iPod|CFNetwork", re.I)),
    ("android", re.compile(r"Android", re.I)),
    ("desktop", re.compile(r"Windows NT|Macintosh|X11|Linux|CrOS", re.I)),
)


@lru_cache(maxsize=2048)  # a few user agents make most traffic
def agent(user_agent: str | None) -> str:
    """The user agent's class: wechat, bot, ios, android, desktop or other (the string is not kept)."""
    text = (user_agent or "")[:512]
    return next((name for name, pattern in _AGENTS if pattern.search(text)), "other")
