"""https URLs of `ipfs://` content through a gateway, given next to the `ipfs://` URIs in answers (a
browser or game engine cannot fetch `ipfs://`; the CID still lets it check what it got)."""

from __future__ import annotations

from typing import Any


def gateway_url(uri: str, gateway_base: str) -> str:
    """`ipfs://{cid}[/{path}]` -> `{gateway_base}/{cid}[/{path}]` (`gateway_base` ends in `/ipfs`)."""
    return f"{gateway_base.rstrip('/')}/{uri.removeprefix('ipfs://')}"


def gateway_urls(doc: Any, gateway_base: str) -> dict[str, str]:
    """Every `ipfs://` URI in a JSON document, mapped to its gateway URL."""
    found: dict[str, str] = {}

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith("ipfs://"):
            found[value] = gateway_url(value, gateway_base)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(doc)
    return found
