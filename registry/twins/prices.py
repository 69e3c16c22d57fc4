"""No prices in a collection marked `no_prices` (a no-secondary-market deployment, issue 26).

What counts as a price field, by name (case, spaces, `_` and `-` ignored), wherever it appears in a
document the brand or a provider sends (twin metadata, physical or wearable; service records):

- any key that is, or ends with, `price` (price, sale_price, list_price, retail_price, unit_price,
  pricecurrency...), and msrp, rrp, cost, listing(s), offer(s), bid(s), royalty, royalties,
  royalty_bps, seller_fee_basis_points (OpenSea's royalty), valuation, resale_value;
- an object that pairs an amount (`amount`, `value`) with a currency (`currency`, `currency_code`):
  an amount alone (of fabric, say) is not a price;
- an ERC-721 style trait whose `trait_type` is one of the names above.

Values are not parsed (a description mentioning a price in prose is not caught): the rule is about
structured fields a marketplace could read.
"""

from __future__ import annotations

import re
from typing import Any

from registry.errors import InvalidInput

_NAMES = frozenset(
    {
        "msrp",
        "rrp",
        "cost",
        "listing",
        "listings",
        "offer",
        "offers",
        "bid",
        "bids",
        "royalty",
        "royalties",
        "royaltybps",
        "sellerfeebasispoints",
        "valuation",
        "resalevalue",
    }
)
_AMOUNTS = frozenset({"amount", "value"})
_CURRENCIES = frozenset({"currency", "currencycode"})


class PricesNotAllowed(InvalidInput):
    """A collection marked `no_prices` was sent price fields; `fields` lists their paths."""

    code, title = "prices-not-allowed", "This collection accepts no price fields"


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def is_price_name(name: str) -> bool:
    n = _norm(name)
    return n in _NAMES or n.endswith("price") or n.startswith("price")


def price_paths(value: Any, path: str = "") -> list[str]:
    """The paths (`a.b[2].c`) of every price field in `value`, a JSON-like document."""
    found: list[str] = []
    if isinstance(value, dict):
        keys = {_norm(str(k)) for k in value}
        if keys & _AMOUNTS and keys & _CURRENCIES:
            return [path or "$"]
        trait = value.get("trait_type")
        if isinstance(trait, str) and is_price_name(trait):
            return [path or "$"]
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if is_price_name(str(key)):
                found.append(sub)
            else:
                found += price_paths(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += price_paths(item, f"{path}[{i}]")
    return found


def refuse_prices(value: Any, path: str = "") -> None:
    """Raises PricesNotAllowed, naming every offending field, when `value` holds price fields."""
    found = price_paths(value, path)
    if found:
        raise PricesNotAllowed(
            "this collection is marked no_prices (no secondary market): remove the price fields " + ", ".join(found),
            fields=found,
        )
