"""GS1 identifiers: GTIN check digits and Digital Link URIs (`/01/{gtin}/21/{serial}`)."""

from __future__ import annotations

import re
from urllib.parse import quote

from registry.errors import InvalidInput

# GS1 AI encodable character set 82, allowed in batch (AI 10) and serial (AI 21) values.
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


def gtin_check_digit(body: str) -> int:
    """Check digit for the digits before it: weights 3, 1, 3, ... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(text: str) -> str:
    """A valid GTIN-8/12/13/14 as 14 digits; InvalidInput with the reason otherwise."""
    if not text.isascii() or not text.isdigit() or len(text) not in (8, 12, 13, 14):
        raise InvalidInput(f"GTIN {text!r} must be 8, 12, 13 or 14 digits")
    if gtin_check_digit(text[:-1]) != int(text[-1]):
        raise InvalidInput(f"GTIN {text} has a wrong check digit (expected {gtin_check_digit(text[:-1])})")
    return text.zfill(14)


def validate_serial(text: str, what: str = "serial") -> str:
    if not _CSET82.match(text):
        raise InvalidInput(f"{what} {text!r} must be 1 to 20 characters of the GS1 character set 82")
    return text


def digital_link(base_url: str, gtin: str, serial: str, lot: str | None = None) -> str:
    """`{base}/01/{gtin14}[/10/{lot}]/21/{serial}`, qualifiers percent-encoded."""
    uri = f"{base_url.rstrip('/')}/01/{normalize_gtin(gtin)}"
    if lot:
        uri += f"/10/{quote(lot, safe='')}"
    return uri + f"/21/{quote(serial, safe='')}"
