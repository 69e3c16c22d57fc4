"""GS1 identifiers: GTIN check digits, the AI values a Digital Link path carries (AI 22, 10, 21:
GS1 AI encodable character set 82, at most 20 characters) and Digital Link URIs
(`/01/{gtin}[/22/{cpv}][/10/{lot}]/21/{serial}`)."""

from __future__ import annotations

import re
from urllib.parse import quote

from registry.errors import InvalidInput

# GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")

# The key qualifiers of a GTIN in a Digital Link path, in the order the path grammar requires:
# AI -> (name, maximum length); each value is 1..max characters of set 82.
GTIN_QUALIFIERS: dict[str, tuple[str, int]] = {
    "22": ("consumer product variant", 20),
    "10": ("lot", 20),
    "21": ("serial", 20),
}


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


def validate_ai_value(text: str, what: str, max_length: int = 20) -> str:
    """A set-82 value of 1..max_length characters (AI 10, 21, 22); InvalidInput naming the fault."""
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > max_length:
        raise InvalidInput(f"{what} {text!r} is {len(text)} characters long; at most {max_length} are allowed")
    bad = sorted({c for c in text if c not in CSET82})
    if bad:
        raise InvalidInput(f"{what} {text!r} holds characters outside the GS1 character set 82: {''.join(bad)!r}")
    return text


def validate_serial(text: str, what: str = "serial") -> str:
    if not _CSET82.match(text):
        raise InvalidInput(f"{what} {text!r} must be 1 to 20 characters of the GS1 character set 82")
    return text


def digital_link(base_url: str, gtin: str, serial: str | None, lot: str | None = None, cpv: str | None = None) -> str:
    """`{base}/01/{gtin14}[/22/{cpv}][/10/{lot}][/21/{serial}]`, qualifiers percent-encoded."""
    uri = f"{base_url.rstrip('/')}/01/{normalize_gtin(gtin)}"
    for ai, value in (("22", cpv), ("10", lot), ("21", serial)):
        if value:
            uri += f"/{ai}/{quote(value, safe='')}"
    return uri
